"""OIDC login on the shipped ``hub_config/jupyterhub_config.py``, against a running OpenID provider.

No real identity provider (TACC, CILogon) is reachable here, so the provider is ``oidc-provider-mock``: an
OpenID Connect server (authlib) with discovery, JWKS, authorization-code flow, refresh tokens and
userinfo, whose users' claims the test sets. The hub is the deployment config itself (endpoints discovered
from the issuer), with only ports and the tests' admin service added, spawning on the real Slurm.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from urllib.parse import quote

import pytest
import requests

from tests.hub import Hub
from tests.services import REPO, free_port, wait_for_port

pytestmark = pytest.mark.timeout(300)

TOKEN_MAX_AGE = 20  # seconds; short so that a second start needs a refreshed token
ACCOUNTS = ("vlt-henry", "vlt-ivan")
WRAPPER = """\
import os
load_subconfig(os.environ["VLASS_DEPLOYMENT_CONFIG"])  # hub_config/jupyterhub_config.py, as shipped
c.JupyterHub.ip = c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.port = int(os.environ["VLASS_HUB_PORT"])
c.JupyterHub.hub_port = int(os.environ["VLASS_HUB_API_PORT"])
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:" + os.environ["VLASS_PROXY_API_PORT"]
c.JupyterHub.services[0]["url"] = "http://127.0.0.1:" + os.environ["VLASS_SERVICE_PORT"]
c.VlassSlurmSpawner.scheduler_poll_interval = 2
load_subconfig(os.environ["VLASS_HUB_EXTRA_CONFIG"])  # the tests' admin service
"""


@pytest.fixture(scope="module")
def provider():
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "oidc_provider_mock", "--port", str(port),
                                "--token-max-age", str(TOKEN_MAX_AGE)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, timeout=30)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="module")
def oidc_hub(slurm, job_env, provider, tmp_path_factory):
    for name in ACCOUNTS:
        if subprocess.run(["id", name], capture_output=True).returncode != 0:
            subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", name], check=True)
    workdir = tmp_path_factory.mktemp("oidc-hub")
    os.chmod(workdir, 0o755)
    (workdir / "hub_config.py").write_text(WRAPPER)
    hub = Hub(workdir, REPO / "hub_config" / "profiles.yaml", config=workdir / "hub_config.py")
    hub.start(VLASS_DEPLOYMENT_CONFIG=str(REPO / "hub_config" / "jupyterhub_config.py"), OIDC_ISSUER=provider,
              OIDC_CLIENT_ID="vlass-hub", OIDC_CLIENT_SECRET=secrets.token_hex(16),
              OIDC_CALLBACK_URL=f"{hub.url}/hub/oauth_callback", OIDC_SCOPES="openid profile email",
              OIDC_ACCOUNT_CLAIM="tacc_username", OIDC_PROJECT_CLAIM="allocation_project",
              VLASS_ALLOWED_GROUPS="vlass-users", VLASS_ADMIN_GROUPS="vlass-admins",
              JUPYTERHUB_CRYPT_KEY=secrets.token_hex(32))
    try:
        yield hub
        for name in ("grace", "ivan"):
            if hub.api("GET", f"/users/{name}").ok:
                hub.stop_server(name)
    finally:
        hub.stop()


def set_claims(provider: str, sub: str, claims: dict) -> None:
    requests.put(f"{provider}/users/{quote(sub)}", json=claims, timeout=10).raise_for_status()


def log_in(hub: Hub, provider: str, sub: str) -> tuple[requests.Session, requests.Response]:
    """The browser's way: hub -> provider's authorization form (submitted as ``sub``) -> hub's callback."""
    browser = requests.Session()
    to_provider = browser.get(f"{hub.url}/hub/oauth_login", allow_redirects=False, timeout=30)
    assert to_provider.status_code == 302, to_provider.text
    assert to_provider.headers["Location"].startswith(f"{provider}/oauth2/authorize?")  # discovered endpoint
    back = browser.post(to_provider.headers["Location"], data={"sub": sub}, allow_redirects=False, timeout=30)
    assert back.status_code == 302 and back.headers["Location"].startswith(f"{hub.url}/hub/oauth_callback?")
    return browser, browser.get(back.headers["Location"], allow_redirects=False, timeout=30)


def userinfo(provider: str, token: str) -> requests.Response:
    return requests.get(f"{provider}/userinfo", headers={"Authorization": f"Bearer {token}"}, timeout=10)


KERNEL_CODE = ("import os, getpass; print(os.environ.get('JUPYTER_VLASS_ACCESS_TOKEN', '-'), getpass.getuser(), "
               "os.environ.get('SLURM_JOB_ACCOUNT', '-'), os.environ.get('JUPYTER_VLASS_ORCID', '-'))")


def test_login_maps_claims_and_a_refreshed_token_reaches_each_server(oidc_hub, provider):
    hub = oidc_hub
    set_claims(provider, "grace@idp", {"preferred_username": "grace", "tacc_username": "vlt-henry",
                                       "allocation_project": "AST-26001", "groups": ["vlass-users", "gpu-power-users"],
                                       "email": "grace@example.org", "orcid": "0000-0002-1825-0097"})
    logged_in_at = time.monotonic()
    browser, landing = log_in(hub, provider, "grace@idp")
    assert landing.status_code == 302, landing.text
    user = hub.api("GET", "/users/grace").json()
    assert {"vlass-users", "gpu-power-users"} <= set(user["groups"])  # managed from the groups claim
    form = browser.get(f"{hub.url}/hub/spawn/grace", timeout=30).text
    assert "tacc-a100-x2" in form and "Allocation <strong>AST-26001</strong>" in form

    hub.service("POST", "/api/allocations/AST-26001", json={"granted_su": 100}).raise_for_status()
    assert hub.spawn("grace", {"profile": "tacc-a100", "walltime": "1h"}).status_code in (201, 202)
    hub.wait_ready("grace")
    token, account, slurm_account, orcid = hub.run_in_kernel("grace", KERNEL_CODE, hub.token_for("grace")).split()
    assert account == "vlt-henry" and slurm_account.lower() == "ast-26001"
    assert orcid == "https://orcid.org/0000-0002-1825-0097"  # what her capsules name her by
    assert userinfo(provider, token).json()["sub"] == "grace@idp"  # a live access token of this user
    hub.stop_server("grace")

    time.sleep(max(0.0, logged_in_at + TOKEN_MAX_AGE + 1 - time.monotonic()))
    assert userinfo(provider, token).status_code == 401  # expired
    assert hub.spawn("grace", {"profile": "tacc-a100", "walltime": "1h"}).status_code in (201, 202)
    hub.wait_ready("grace")
    fresh, _, _, _ = hub.run_in_kernel("grace", KERNEL_CODE, hub.token_for("grace")).split()
    assert fresh != token and userinfo(provider, fresh).json()["sub"] == "grace@idp"  # refresh_pre_spawn
    assert hub.api("GET", "/users/grace").json()["auth_state"]["access_token"] == fresh
    hub.stop_server("grace")


def test_a_user_outside_the_allowed_groups_is_refused(oidc_hub, provider):
    set_claims(provider, "mallory@idp", {"preferred_username": "mallory", "tacc_username": "vlt-ivan",
                                         "groups": ["somewhere-else"]})
    _, landing = log_in(oidc_hub, provider, "mallory@idp")
    assert landing.status_code == 403
    assert oidc_hub.api("GET", "/users/mallory").status_code == 404


def test_a_claim_that_is_not_a_unix_name_stops_the_spawn_with_a_message(oidc_hub, provider):
    set_claims(provider, "ivan@idp", {"preferred_username": "ivan", "tacc_username": "vlt-ivan; id",
                                      "groups": ["vlass-users"]})
    _, landing = log_in(oidc_hub, provider, "ivan@idp")
    assert landing.status_code == 302
    response = oidc_hub.spawn("ivan", {"profile": "tacc-a100", "walltime": "1h"})
    assert response.status_code == 403 and "tacc_username" in response.json()["message"], response.text
    assert oidc_hub.server("ivan") is None
    jobs = subprocess.run(["squeue", "--noheader", "--user", "vlt-ivan"], capture_output=True, text=True)
    assert jobs.stdout.strip() == ""


def test_revoked_tokens_mean_logging_in_again(oidc_hub, provider):
    set_claims(provider, "ivan@idp", {"preferred_username": "ivan", "tacc_username": "vlt-ivan",
                                      "groups": ["vlass-users"]})
    browser, _ = log_in(oidc_hub, provider, "ivan@idp")
    requests.post(f"{provider}/users/{quote('ivan@idp')}/revoke-tokens", timeout=10).raise_for_status()
    browser.get(f"{oidc_hub.url}/hub/spawn/ivan", timeout=30)
    response = browser.post(f"{oidc_hub.url}/hub/spawn/ivan", allow_redirects=False, timeout=30, data={
        "profile": "tacc-cpu", "_xsrf": browser.cookies.get("_xsrf", path="/hub/")})
    assert response.status_code == 403 and "login again" in response.text
    assert oidc_hub.server("ivan") is None
