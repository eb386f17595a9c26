"""Per-source credentials: from config, the environment or the hub's auth_state.

Credentials are never written to the registry, never logged and never returned by an API:
the store keeps only *where* to find them. ``repr`` hides the values.

The user's hub token (the login's access token) goes only to a source whose URI is at an origin the hub's
admins trust with it (``JUPYTER_VLASS_HUB_TOKEN_ORIGINS``, set in the spawner's environment): never to a
source someone added pointing elsewhere, and never to a URL a remote service returned (an SIA2 record's
``access_url``), whatever its host.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ..hub_client import HUB_TOKEN_ENV

ENV_PREFIX = "JUPYTER_VLASS_CRED_"
ORIGINS_ENV = "JUPYTER_VLASS_HUB_TOKEN_ORIGINS"


@dataclass(frozen=True)
class Credentials:
    """Secrets for one source: ``token`` (HTTP bearer) and/or ``key`` + ``secret`` (S3)."""

    values: Mapping[str, str] = field(default_factory=dict, repr=False)
    hub_token: bool = False  # the token is the user's hub token (not the source's own)

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    @property
    def token(self) -> str | None:
        return self.values.get("token")

    def http_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def for_returned_urls(self) -> Credentials:
        """What may go to a URL the source's service returned: the source's own credentials, never the
        user's hub token."""
        return Credentials({}) if self.hub_token else self

    def __bool__(self) -> bool:
        return bool(self.values)

    def __repr__(self) -> str:
        return f"Credentials(fields={sorted(self.values)})"


def _env_name(source: str) -> str:
    return ENV_PREFIX + re.sub(r"[^A-Za-z0-9]", "_", source).upper() + "_"


def origin(url: str) -> str | None:
    """``scheme://host[:port]`` of an http(s) URL (lower case, default ports dropped), else None."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except (ValueError, AttributeError):
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    default = {"http": 80, "https": 443}[parts.scheme.lower()]
    return f"{parts.scheme.lower()}://{parts.hostname.lower()}" + (f":{port}" if port and port != default else "")


def trusted_origins(environ: Mapping[str, str] | None = None) -> frozenset[str]:
    """The origins the hub's admins trust with users' hub tokens (``JUPYTER_VLASS_HUB_TOKEN_ORIGINS``,
    comma-separated URLs); an entry that is not an http(s) URL is ignored."""
    environ = os.environ if environ is None else environ
    found = (origin(entry) for entry in environ.get(ORIGINS_ENV, "").split(",") if entry.strip())
    return frozenset(o for o in found if o)


def resolve_credentials(source: str, *, uri: str = "", config: Mapping[str, Mapping[str, str]] | None = None,
                        environ: Mapping[str, str] | None = None, use_hub_token: bool = False) -> Credentials:
    """Merge, lowest precedence first: the hub token (``use_hub_token``, and only for a ``uri`` at an origin
    the admins trust with it), environment variables ``JUPYTER_VLASS_CRED_<SOURCE>_<FIELD>``, then explicit
    config."""
    environ = os.environ if environ is None else environ
    values: dict[str, str] = {}
    if use_hub_token and environ.get(HUB_TOKEN_ENV) and origin(uri) in trusted_origins(environ):
        values["token"] = environ[HUB_TOKEN_ENV]
    prefix = _env_name(source)
    for name, value in environ.items():
        if name.startswith(prefix) and value:
            values[name[len(prefix):].lower()] = value
    values.update((config or {}).get(source, {}))
    return Credentials(values, hub_token="token" in values and values["token"] == environ.get(HUB_TOKEN_ENV))


def redact(text: str, credentials: Credentials) -> str:
    """Remove any secret value from a message before it is shown or logged."""
    for value in credentials.values.values():
        if value and len(value) >= 4:
            text = text.replace(value, "***")
    return text
