"""Per-source credentials: from config, the environment or the hub's auth_state.

Credentials are never written to the registry, never logged and never returned by an API:
the store keeps only *where* to find them. ``repr`` hides the values.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..hub_client import HUB_TOKEN_ENV

ENV_PREFIX = "JUPYTER_VLASS_CRED_"


@dataclass(frozen=True)
class Credentials:
    """Secrets for one source: ``token`` (HTTP bearer) and/or ``key`` + ``secret`` (S3)."""

    values: Mapping[str, str] = field(default_factory=dict, repr=False)

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    @property
    def token(self) -> str | None:
        return self.values.get("token")

    def http_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def __bool__(self) -> bool:
        return bool(self.values)

    def __repr__(self) -> str:
        return f"Credentials(fields={sorted(self.values)})"


def _env_name(source: str) -> str:
    return ENV_PREFIX + re.sub(r"[^A-Za-z0-9]", "_", source).upper() + "_"


def resolve_credentials(source: str, *, config: Mapping[str, Mapping[str, str]] | None = None,
                        environ: Mapping[str, str] | None = None, use_hub_token: bool = False) -> Credentials:
    """Merge, lowest precedence first: the hub token (``use_hub_token``), environment
    variables ``JUPYTER_VLASS_CRED_<SOURCE>_<FIELD>``, then explicit config."""
    environ = os.environ if environ is None else environ
    values: dict[str, str] = {}
    if use_hub_token and environ.get(HUB_TOKEN_ENV):
        values["token"] = environ[HUB_TOKEN_ENV]
    prefix = _env_name(source)
    for name, value in environ.items():
        if name.startswith(prefix) and value:
            values[name[len(prefix):].lower()] = value
    values.update((config or {}).get(source, {}))
    return Credentials(values)


def redact(text: str, credentials: Credentials) -> str:
    """Remove any secret value from a message before it is shown or logged."""
    for value in credentials.values.values():
        if value and len(value) >= 4:
            text = text.replace(value, "***")
    return text
