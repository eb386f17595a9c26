"""OIDC (TACC, CILogon) bridge: login claims -> unix account, allocation project, and the access token.

Used from ``hub_config/jupyterhub_config.py`` with oauthenticator's GenericOAuthenticator and
``enable_auth_state``. The token reaches the user's server as ``JUPYTER_VLASS_ACCESS_TOKEN``, which the
federation sources read (``jupyter_vlass.federation.credentials``); it is never written to disk by us.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from jupyter_vlass.federation.credentials import HUB_TOKEN_ENV

_ACCOUNT = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
_PROJECT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class ClaimError(ValueError):
    """A login claim that cannot become a unix account or a project name."""


def claims_of(auth_state: Mapping | None) -> Mapping:
    """The ID token / userinfo claims oauthenticator keeps in ``auth_state`` (key ``<user_auth_state_key>``)."""
    if not auth_state:
        return {}
    for key in ("oauth_user", "userinfo", "id_token_claims"):
        if isinstance(auth_state.get(key), Mapping):
            return auth_state[key]
    return {}


def unix_account_from_claims(claims: Mapping, *, claim: str) -> str:
    value = str(claims.get(claim, "")).strip().lower()
    if not _ACCOUNT.match(value):
        raise ClaimError(f"claim {claim!r} ({value[:40]!r}) is not a unix account name")
    return value


def project_from_claims(claims: Mapping, *, claim: str, default: str) -> str:
    value = claims.get(claim)
    if isinstance(value, list):
        value = value[0] if value else None
    value = str(value or default)
    if not _PROJECT.match(value):
        raise ClaimError(f"claim {claim!r} ({value[:40]!r}) is not a project name")
    return value


def make_auth_state_hook(*, account_claim: str = "preferred_username", project_claim: str = "allocation_project"):
    """A ``Spawner.auth_state_hook``: token into the environment; account and project into the child config."""

    def hook(spawner, auth_state):
        if not auth_state:
            return
        claims = claims_of(auth_state)
        name = spawner.user.name
        account = unix_account_from_claims(claims, claim=account_claim) if account_claim in claims else name
        project = project_from_claims(claims, claim=project_claim, default=account)
        if auth_state.get("access_token"):
            spawner.environment = {**spawner.environment, HUB_TOKEN_ENV: auth_state["access_token"]}
        overrides = {"unix_accounts": {name: account}, "projects": {name: project}}
        if hasattr(spawner, "slurm_config"):
            spawner.slurm_config = {**spawner.slurm_config, **overrides}
        else:
            for key, value in overrides.items():
                setattr(spawner, key, value)

    return hook
