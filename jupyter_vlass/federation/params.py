"""What the registry's web APIs (a user's server, the hub service) read from a request; standard library only,
so a server's start stays light."""

from __future__ import annotations

from ..exceptions import InvalidArgument


def parse_number(text: str | None, name: str, *, default=None, cast=float):
    if text is None or text == "":
        return default
    try:
        return cast(text)
    except ValueError:
        raise InvalidArgument(f"{name} must be a number, got {text[:40]!r}") from None


def parse_sources(text: str | None) -> list[str] | None:
    if not text:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise InvalidArgument("sources must be a comma-separated list of source names")
    return names


def source_spec(body: dict) -> tuple[str, str, str, dict]:
    """``(name, kind, uri, options)`` of a request adding a source; each missing or mistyped field named."""
    for key in ("name", "kind", "uri"):
        if not isinstance(body.get(key), str):
            raise InvalidArgument(f"'{key}' is required and must be a string")
    options = body.get("options") or {}
    if not isinstance(options, dict):
        raise InvalidArgument("'options' must be an object")
    return body["name"], body["kind"], body["uri"], options
