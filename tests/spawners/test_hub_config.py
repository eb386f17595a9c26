"""The shipped hub configs name only real traits; the OIDC hook maps claims safely."""

import types

import pytest
from jupyterhub.app import JupyterHub
from oauthenticator.generic import GenericOAuthenticator
from tornado.web import HTTPError
from traitlets.config import PyFileConfigLoader

from jupyter_vlass.hub_client import HUB_TOKEN_ENV
from tests.services import REPO
from vlass_spawners.oidc import ClaimError, make_auth_state_hook, unix_account_from_claims
from vlass_spawners.profiles import VlassProfilesSpawner
from vlass_spawners.slurm import VlassSlurmSpawner


@pytest.mark.parametrize("name", ["jupyterhub_config.py", "demo_config.py"])
def test_every_config_key_is_a_trait_of_its_class(name, monkeypatch, tmp_path):
    monkeypatch.setenv("VLASS_HUB_DIR", str(tmp_path))
    for name_, url in (("OIDC_AUTHORIZE_URL", "https://idp.example/authorize"),
                       ("OIDC_TOKEN_URL", "https://idp.example/token"),
                       ("OIDC_USERINFO_URL", "https://idp.example/userinfo")):
        monkeypatch.setenv(name_, url)  # no discovery: this machine reaches no identity provider
    config = PyFileConfigLoader(name, path=str(REPO / "hub_config")).load_config()
    for cls in (GenericOAuthenticator, VlassProfilesSpawner, VlassSlurmSpawner, JupyterHub):
        unknown = set(config[cls.__name__]) - set(cls.class_traits())
        assert not unknown, (cls.__name__, unknown)
    assert not set(config.Spawner) - set(VlassSlurmSpawner.class_traits())


@pytest.mark.parametrize("timeout, culler", [("0", None), ("600", "--timeout=600"), (None, "--timeout=3600")])
def test_the_idle_culler_runs_unless_its_timeout_is_off(timeout, culler, monkeypatch, tmp_path):
    monkeypatch.setenv("VLASS_HUB_DIR", str(tmp_path))
    if timeout is None:
        monkeypatch.delenv("VLASS_IDLE_TIMEOUT", raising=False)
    else:
        monkeypatch.setenv("VLASS_IDLE_TIMEOUT", timeout)
    config = PyFileConfigLoader("demo_config.py", path=str(REPO / "hub_config")).load_config()
    services = {s["name"]: s for s in config.JupyterHub.services}
    assert "vlass" in services
    assert (culler in services["idle-culler"]["command"]) if culler else "idle-culler" not in services


def _wrapper_spawner():
    """Stands in for VlassProfilesSpawner in the hook: a user name, an environment, slurm_config."""
    return types.SimpleNamespace(user=types.SimpleNamespace(name="jdoe@tacc"), environment={"A": "1"},
                                 slurm_config={"job_environment": "/opt/env"})


def test_hook_passes_token_account_and_project():
    spawner = _wrapper_spawner()
    hook = make_auth_state_hook(account_claim="tacc_username", project_claim="allocation_project")
    hook(spawner, {"access_token": "tok-123", "oauth_user": {"tacc_username": "JDoe",
                                                              "allocation_project": ["AST21001"]}})
    assert spawner.environment == {"A": "1", HUB_TOKEN_ENV: "tok-123"}
    assert spawner.slurm_config == {"job_environment": "/opt/env", "unix_accounts": {"jdoe@tacc": "jdoe"},
                                    "projects": {"jdoe@tacc": "AST21001"}}


@pytest.mark.parametrize("claim, orcid", [("0000-0002-1825-0097", "https://orcid.org/0000-0002-1825-0097"),
                                          ("https://orcid.org/0000-0002-1825-0098", ""), (None, "")])
def test_hook_takes_the_orcid_claim_only_when_it_is_an_orcid(claim, orcid):
    spawner = _wrapper_spawner()
    spawner.orcid = "left from before"
    hook = make_auth_state_hook(orcid_claim="oidc")
    hook(spawner, {"oauth_user": {"preferred_username": "jdoe", **({"oidc": claim} if claim else {})}})
    assert spawner.orcid == orcid


@pytest.mark.parametrize("claims", [{"tacc_username": "root; rm -rf /"}, {"tacc_username": "x" * 40},
                                    {"tacc_username": "ok", "allocation_project": "$(id)"}])
def test_hook_refuses_claims_that_are_not_names(claims):
    hook = make_auth_state_hook(account_claim="tacc_username", project_claim="allocation_project")
    spawner = _wrapper_spawner()
    with pytest.raises(HTTPError) as refused:
        hook(spawner, {"access_token": "t", "oauth_user": claims})
    assert refused.value.status_code == 403 and "is not a" in refused.value.log_message
    assert spawner.environment == {"A": "1"} and "unix_accounts" not in spawner.slurm_config


def test_claim_checks_name_the_claim():
    with pytest.raises(ClaimError, match="'tacc_username'"):
        unix_account_from_claims({"tacc_username": "$(id)"}, claim="tacc_username")


def test_port_report_replaces_batchspawners_route_only_when_installed():
    from batchspawner.api import BatchSpawnerAPIHandler

    from vlass_spawners.api import ROUTE, PortReportHandler, install_port_report, port_report_installed

    handlers = [(r"/api/users", object), (ROUTE, BatchSpawnerAPIHandler)]
    assert not port_report_installed(handlers)
    install_port_report(handlers)
    assert handlers == [(r"/api/users", object), (ROUTE, PortReportHandler)] and port_report_installed(handlers)
    install_port_report(handlers)  # idempotent
    assert [h for h in handlers if h[0] == ROUTE] == [(ROUTE, PortReportHandler)]
