"""A source's options, each known by name and type: checked when the source is added (the refusal names the
option), stored typed, and read back through the same parsers. Every source takes the common options;
a kind declares its own in ``Source.OPTIONS``."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from ..exceptions import InvalidArgument, InvalidSource
from .access import ACCESS_GROUPS_OPTION, parse_groups
from .limits import parse_rate

Parser = Callable[[object], object]
TRUE, FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def text(value: object) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 2000 or any(ord(c) < 32 for c in value):
        raise InvalidArgument("must be text of 1 to 2000 characters")
    return value.strip()


def http_url(value: object) -> str:
    url = text(value)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidArgument(f"must be an http(s) URL, got {url[:80]!r}")
    return url


def boolean(value: object) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in TRUE:
        return True
    if word in FALSE:
        return False
    raise InvalidArgument(f"must be true or false, got {str(value)[:40]!r}")


def positive_number(value: object) -> float:
    try:
        number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number) or number <= 0:
        raise InvalidArgument(f"must be a number above 0, got {str(value)[:40]!r}")
    return number


def positive_integer(value: object) -> int:
    number = positive_number(value)
    if number != int(number):
        raise InvalidArgument(f"must be a whole number above 0, got {str(value)[:40]!r}")
    return int(number)


def rate(value: object) -> str:
    parse_rate(text(value))
    return text(value)


def groups(value: object) -> str:
    parse_groups(text(value))
    return text(value)


COMMON: Mapping[str, Parser] = {"rate_limit": rate, "burst": positive_number, ACCESS_GROUPS_OPTION: groups}


def checked_options(kind: str, declared: Mapping[str, Parser], options: Mapping) -> dict:
    """``options`` of a ``kind`` source parsed by their types; an unknown option or a bad value is refused
    with its name."""
    known = {**COMMON, **declared}
    parsed = {}
    for name, value in dict(options or {}).items():
        if name not in known:
            raise InvalidSource(f"option {str(name)[:60]!r}: a {kind} source has no such option "
                                f"(options: {', '.join(sorted(known))})")
        try:
            parsed[name] = known[name](value)
        except InvalidArgument as error:
            raise InvalidSource(f"option {name}: {error.message.removeprefix(f'{name}: ')}") from None
    return parsed


def option(options: Mapping, name: str, parser: Parser, default=None):
    """An option as stored (older rows may hold it as text), parsed; ``default`` when absent."""
    value = options.get(name)
    if value is None:
        return default
    try:
        return parser(value)
    except InvalidArgument as error:
        raise InvalidSource(f"option {name}: {error.message}") from None
