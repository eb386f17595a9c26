"""JupyterHub for a real jupyter-vlass deployment: OIDC login, Slurm GPU profiles, approvals.

Fill the environment (or edit below):
- OIDC_ISSUER (e.g. https://cilogon.org or TACC's issuer; its endpoints are read from
  ``/.well-known/openid-configuration`` unless OIDC_AUTHORIZE_URL, OIDC_TOKEN_URL and OIDC_USERINFO_URL
  are set; then OIDC_BASIC_AUTH=false sends the client secret in the form), OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_CALLBACK_URL (``https://<hub>/hub/oauth_callback``);
- OIDC_SCOPES (space-separated), OIDC_USERNAME_CLAIM (hub user name), OIDC_ACCOUNT_CLAIM (unix account,
  default: the user-name claim), OIDC_PROJECT_CLAIM (allocation project), OIDC_ORCID_CLAIM (the ORCID iD a
  capsule names its author by, default ``orcid``; CILogon's ORCID logins: ``oidc``), OIDC_GROUPS_CLAIM (JupyterHub
  groups); VLASS_ALLOWED_GROUPS and VLASS_ADMIN_GROUPS (comma-separated; admins also decide approvals);
- JUPYTERHUB_CRYPT_KEY (for auth_state: ``openssl rand -hex 32``), JUPYTER_VLASS_HUB_DB (PostgreSQL URL for
  a shared hub), VLASS_PROFILES (the admins' YAML), VLASS_JOB_ENV (the environment jobs activate, on
  shared storage), VLASS_SERVICE_PROCESSES (hub service processes on PostgreSQL, default 2).
The hub runs as root (or a user with sudo rights to run sbatch as each user) on a Slurm submit host.
"""

import os
from pathlib import Path

from jupyter_vlass.hubservice.config import add_vlass_service
from vlass_spawners.api import install_port_report
from vlass_spawners.oidc import OIDCEndpoints, allow_refresh_on_cookie_requests, discover, make_auth_state_hook

here = Path(__file__).resolve().parent
db_url = os.environ.get("JUPYTER_VLASS_HUB_DB", "sqlite:///vlass-hub.sqlite")
profiles = os.environ.get("VLASS_PROFILES", str(here / "profiles.yaml"))
issuer = os.environ.get("OIDC_ISSUER", "https://cilogon.org").rstrip("/")
username_claim = os.environ.get("OIDC_USERNAME_CLAIM", "preferred_username")
if all(os.environ.get(k) for k in ("OIDC_AUTHORIZE_URL", "OIDC_TOKEN_URL", "OIDC_USERINFO_URL")):
    endpoints = OIDCEndpoints(os.environ["OIDC_AUTHORIZE_URL"], os.environ["OIDC_TOKEN_URL"],
                              os.environ["OIDC_USERINFO_URL"],
                              basic_auth=os.environ.get("OIDC_BASIC_AUTH", "true").lower() in ("1", "true"))
else:
    endpoints = discover(issuer)

c = get_config()  # noqa: F821
install_port_report()  # jobs report their port to a handler that accepts nothing else

# --- login: OIDC (TACC / CILogon) with auth_state kept encrypted -----------------------------------
c.JupyterHub.authenticator_class = "generic-oauth"
c.GenericOAuthenticator.client_id = os.environ.get("OIDC_CLIENT_ID", "")
c.GenericOAuthenticator.client_secret = os.environ.get("OIDC_CLIENT_SECRET", "")
c.GenericOAuthenticator.oauth_callback_url = os.environ.get("OIDC_CALLBACK_URL", "")
c.GenericOAuthenticator.authorize_url = endpoints.authorize_url
c.GenericOAuthenticator.token_url = endpoints.token_url
c.GenericOAuthenticator.userdata_url = endpoints.userdata_url
c.GenericOAuthenticator.basic_auth = endpoints.basic_auth  # also how refresh tokens are redeemed
c.GenericOAuthenticator.scope = os.environ.get("OIDC_SCOPES", "openid email profile org.cilogon.userinfo").split()
c.GenericOAuthenticator.username_claim = username_claim
c.GenericOAuthenticator.manage_groups = True          # JupyterHub groups from the IdP's groups claim
c.GenericOAuthenticator.auth_state_groups_key = "oauth_user." + os.environ.get("OIDC_GROUPS_CLAIM", "groups")
c.GenericOAuthenticator.allow_all = False
c.GenericOAuthenticator.allowed_groups = set(filter(None, os.environ.get("VLASS_ALLOWED_GROUPS", "").split(",")))
c.GenericOAuthenticator.admin_groups = set(filter(None, os.environ.get("VLASS_ADMIN_GROUPS", "").split(",")))
c.Authenticator.enable_auth_state = True              # needs JUPYTERHUB_CRYPT_KEY
c.Authenticator.refresh_pre_spawn = True              # fresh access token at every start
allow_refresh_on_cookie_requests()                    # JupyterHub 6.1: else a revoked login gets a 500

# --- spawning: admin-managed profiles over the Slurm spawner ---------------------------------------
c.JupyterHub.spawner_class = "vlass-profiles"
c.VlassProfilesSpawner.profiles_file = profiles
c.VlassProfilesSpawner.db_url = db_url
c.VlassProfilesSpawner.local_config = {"cmd": [os.environ.get("VLASS_JOB_ENV", "/opt/vlass-jobenv")
                                               + "/bin/jupyterhub-singleuser"]}
c.VlassSlurmSpawner.job_environment = os.environ.get("VLASS_JOB_ENV", "/opt/vlass-jobenv")
c.VlassSlurmSpawner.queue_timeout = 4 * 3600
c.VlassSlurmSpawner.scheduler_poll_interval = 5
c.Spawner.auth_state_hook = make_auth_state_hook(
    account_claim=os.environ.get("OIDC_ACCOUNT_CLAIM", username_claim),
    project_claim=os.environ.get("OIDC_PROJECT_CLAIM", "allocation_project"),
    orcid_claim=os.environ.get("OIDC_ORCID_CLAIM", "orcid"))
c.Spawner.default_url = "/lab"
c.JupyterHub.cleanup_servers = False                  # hub upgrades and restarts re-attach to jobs

# --- the hub service: approvals and allocations ----------------------------------------------------
add_vlass_service(c, db_url=db_url, profiles=profiles,
                  approver_groups=filter(None, os.environ.get("VLASS_ADMIN_GROUPS", "").split(",")),
                  source_admin_groups=filter(None, os.environ.get("VLASS_ADMIN_GROUPS", "").split(",")),
                  search_quota=os.environ.get("VLASS_SEARCH_QUOTA") or None,
                  page_rate=os.environ.get("VLASS_PAGE_RATE") or None,  # the gallery's, per user (default 5/s)
                  capsules=os.environ.get("VLASS_CAPSULES") or None,  # a folder or s3://bucket/prefix
                  # several processes on a shared database; one on the embedded SQLite
                  processes=int(os.environ.get("VLASS_SERVICE_PROCESSES") or (1 if db_url.startswith("sqlite") else 2)))
