"""OIDC (TACC, CILogon) bridge: login claims -> unix account, allocation project, and the access token.

Used from ``hub_config/jupyterhub_config.py`` with oauthenticator's GenericOAuthenticator and
``enable_auth_state``. The token reaches the user's server as ``JUPYTER_VLASS_ACCESS_TOKEN``, which the
federation sources read (``jupyter_vlass.federation.credentials``); it is never written to disk by us.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass

from jupyterhub.handlers.base import BaseHandler
from tornado import web

from jupyter_vlass.hub_client import HUB_TOKEN_ENV
from jupyter_vlass.patterns import PLAIN_NAME, UNIX_ACCOUNT, orcid_url



class ClaimError(ValueError):
    """A login claim that cannot become a unix account or a project name."""


class DiscoveryError(RuntimeError):
    """The issuer's OpenID configuration could not be read; the hub should not start without it."""


@dataclass(frozen=True)
class OIDCEndpoints:
    authorize_url: str
    token_url: str
    userdata_url: str
    basic_auth: bool = True  # client_secret_basic at the token endpoint (the OIDC default)


def discover(issuer: str, *, timeout: float = 10.0) -> OIDCEndpoints:
    """The provider's endpoints from ``<issuer>/.well-known/openid-configuration`` (OIDC Discovery 1.0)."""
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            document = json.load(response)
        methods = document.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        return OIDCEndpoints(document["authorization_endpoint"], document["token_endpoint"],
                             document["userinfo_endpoint"], basic_auth="client_secret_basic" in methods)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DiscoveryError(f"cannot read the OpenID configuration at {url}: {error}; set OIDC_AUTHORIZE_URL, "
                             "OIDC_TOKEN_URL and OIDC_USERINFO_URL to skip discovery") from None


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
    if not UNIX_ACCOUNT.match(value):
        raise ClaimError(f"claim {claim!r} ({value[:40]!r}) is not a unix account name")
    return value


def project_from_claims(claims: Mapping, *, claim: str, default: str) -> str:
    value = claims.get(claim)
    if isinstance(value, list):
        value = value[0] if value else None
    value = str(value or default)
    if not PLAIN_NAME.match(value):
        raise ClaimError(f"claim {claim!r} ({value[:40]!r}) is not a project name")
    return value


def orcid_from_claims(claims: Mapping, *, claim: str) -> str | None:
    """The ORCID iD's URL in ``claim`` (CILogon's ``oidc`` claim holds it for an ORCID login), else None."""
    return orcid_url(claims.get(claim))


def make_auth_state_hook(*, account_claim: str = "preferred_username", project_claim: str = "allocation_project",
                         orcid_claim: str = "orcid"):
    """A ``Spawner.auth_state_hook``: token into the environment; account and project into the child config;
    the ORCID iD (when the claim holds a valid one) onto the spawner, which records it for the hub service."""

    def hook(spawner, auth_state):
        if not auth_state:
            return
        claims = claims_of(auth_state)
        name = spawner.user.name
        try:
            account = unix_account_from_claims(claims, claim=account_claim) if account_claim in claims else name
            project = project_from_claims(claims, claim=project_claim, default=account)
        except ClaimError as error:  # the user sees why; nothing is submitted
            raise web.HTTPError(403, f"{error}; ask the hub's admins to correct your identity record") from None
        if auth_state.get("access_token"):
            spawner.environment = {**spawner.environment, HUB_TOKEN_ENV: auth_state["access_token"]}
        if hasattr(spawner, "orcid"):
            spawner.orcid = orcid_from_claims(claims, claim=orcid_claim) or ""
        overrides = {"unix_accounts": {name: account}, "projects": {name: project}}
        if hasattr(spawner, "slurm_config"):
            spawner.slurm_config = {**spawner.slurm_config, **overrides}
        else:
            for key, value in overrides.items():
                setattr(spawner, key, value)

    return hook


def allow_refresh_on_cookie_requests() -> None:
    """Work around JupyterHub 6.1: a failed token refresh on a browser (cookie) request raises AttributeError.

    ``BaseHandler.refresh_auth`` reads ``self._token_authenticated``, which is only set on token-authenticated
    requests, so a user whose refresh token was revoked got a 500 from the spawn form instead of
    "auth has expired, login again". A class-level default of False is what the code means.
    """
    if not hasattr(BaseHandler, "_token_authenticated"):
        BaseHandler._token_authenticated = False
