"""Demo hub: local accounts, the local Slurm of ``local_slurm.py``, the profiles in ``profiles.yaml``.

Started by ``make demo-hub``; the tests start it too (with the environment variables below).
Log in as one of ``VLASS_DEMO_USERS`` with the password ``VLASS_DEMO_PASSWORD``; ``VLASS_DEMO_ADMINS``
may approve large requests at ``/services/vlass/approvals``.

Environment: VLASS_HUB_DIR (state), VLASS_HUB_PORT (8000), VLASS_HUB_API_PORT (8081),
VLASS_PROXY_API_PORT (8001), VLASS_JOB_ENV (/opt/vlass-jobenv), VLASS_PROFILES, JUPYTER_VLASS_HUB_DB,
VLASS_SPAWNER (``vlass-profiles`` or ``batchspawner.SlurmSpawner`` for the benchmark's baseline),
VLASS_REGISTRY_DB (the dataset registry the hub service holds for everyone; default: the service's database),
VLASS_DEMO_EXPERTS (who may vote on detections; default alice,admin; also anyone in the vlass-experts group),
JUPYTER_VLASS_JOBS_CONFIG (the job sites users' servers offer; default: the local machine and the Slurm
GPU partition, written at start where every account can read it), VLASS_EXAMPLES and VLASS_SAMPLE (the
notebooks merged into each user's ``vlass-examples`` folder at every start, and the sample data the service
registers in an empty registry at its start; default: what ``make job-env`` put in the job environment's
``share/jupyter-vlass``), VLASS_IDLE_TIMEOUT (seconds before an idle server is stopped, 3600; 0: never), VLASS_SERVICE_PROCESSES (hub service
processes on its one port, 1; more than one wants JUPYTER_VLASS_HUB_DB on PostgreSQL).
"""

import os
from pathlib import Path

import hashlib
import sys

from jupyter_vlass.hubservice.config import add_vlass_service
from jupyter_vlass.sample_data import DEMO_JOBS_ROOT, hub_jobs_config
from vlass_spawners.api import install_port_report

here = Path(__file__).resolve().parent
state = Path(os.environ.get("VLASS_HUB_DIR", here.parent / ".demo" / "hub"))
state.mkdir(parents=True, exist_ok=True)
# The hub's and the service's databases and the cookie secret: the hub's alone. Users need nothing here (their
# servers start in their homes, Slurm jobs --chdir there, and the profiles are read from hub_config).
state.chmod(0o700)
db_url = os.environ.get("JUPYTER_VLASS_HUB_DB", f"sqlite:///{state / 'vlass-hub.sqlite'}")
job_env = os.environ.get("VLASS_JOB_ENV", "/opt/vlass-jobenv")
users = os.environ.get("VLASS_DEMO_USERS", "alice,bob").split(",")
admins = os.environ.get("VLASS_DEMO_ADMINS", "admin").split(",")

c = get_config()  # noqa: F821  (provided by JupyterHub when it loads this file)
install_port_report()  # jobs report their port to a handler that accepts nothing else
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = int(os.environ.get("VLASS_HUB_PORT", "8000"))
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(os.environ.get("VLASS_HUB_API_PORT", "8081"))
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{os.environ.get('VLASS_PROXY_API_PORT', '8001')}"
c.ConfigurableHTTPProxy.pid_file = str(state / "proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "cookie_secret")
c.JupyterHub.cleanup_servers = False  # a hub restart re-attaches to running jobs
c.JupyterHub.last_activity_interval = 30

c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = os.environ.get("VLASS_DEMO_PASSWORD", "vlass-demo")
c.Authenticator.allowed_users = set(users)
c.Authenticator.admin_users = set(admins)
power_users = [u for u in os.environ.get("VLASS_DEMO_POWER_USERS", "alice").split(",") if u]
c.JupyterHub.load_groups = {"gpu-power-users": {"users": power_users}}  # may ask for tacc-a100-x2

spawner = os.environ.get("VLASS_SPAWNER", "vlass-profiles")
c.JupyterHub.spawner_class = spawner
c.Spawner.http_timeout = 60
c.Spawner.poll_interval = int(os.environ.get("VLASS_POLL_INTERVAL", "10"))
c.Spawner.default_url = "/lab"
c.VlassProfilesSpawner.profiles_file = os.environ.get("VLASS_PROFILES", str(here / "profiles.yaml"))
# Out of the box, every user's server offers both job sites and brings the example notebooks into the user's
# home; the hub service holds the registry (the sample sources synced at its start) and answers their searches.
shared = Path(job_env) / "share" / "jupyter-vlass"
jobs_config = os.environ.get("JUPYTER_VLASS_JOBS_CONFIG") or str(hub_jobs_config(
    DEMO_JOBS_ROOT / ("hub-" + hashlib.sha256(str(state).encode()).hexdigest()[:12]),
    job_env=Path(job_env), profiles=Path(c.VlassProfilesSpawner.profiles_file)))
c.Spawner.environment = {"JUPYTER_VLASS_JOBS_CONFIG": jobs_config,
                         "JUPYTER_VLASS_EXAMPLES": os.environ.get("VLASS_EXAMPLES", str(shared / "notebooks"))}
c.VlassProfilesSpawner.db_url = db_url
c.VlassProfilesSpawner.local_config = {"cmd": [f"{job_env}/bin/jupyterhub-singleuser"]}
c.VlassSlurmSpawner.job_environment = job_env
c.VlassSlurmSpawner.scheduler_poll_interval = float(os.environ.get("VLASS_SCHEDULER_INTERVAL", "2"))
c.VlassSlurmSpawner.queue_timeout = float(os.environ.get("VLASS_QUEUE_TIMEOUT", "3600"))
c.VlassSlurmSpawner.startup_poll_interval = 0.5
c.VlassSlurmSpawner.approval_wait = float(os.environ.get("VLASS_APPROVAL_WAIT", "300"))
# The stock spawner, for the benchmark's baseline: same cluster, same environment.
c.SlurmSpawner.req_partition = "gpu-a100"
c.SlurmSpawner.req_runtime = "04:00:00"
c.SlurmSpawner.req_memory = "2G"
c.SlurmSpawner.req_gres = "gpu:a100:1"
c.SlurmSpawner.req_keepvars_extra = "PATH,VIRTUAL_ENV"  # JupyterHub >= 5.2 passes no PATH (TESTING.md)
c.SlurmSpawner.req_prologue = f"export PATH={job_env}/bin:$PATH VIRTUAL_ENV={job_env}"
c.SlurmSpawner.startup_poll_interval = 0.5

# The hub-wide service: the dataset registry, approvals and allocations, job records, review, signing.
add_vlass_service(c, db_url=db_url, profiles=c.VlassProfilesSpawner.profiles_file,
                  url=f"http://127.0.0.1:{os.environ.get('VLASS_SERVICE_PORT', '10101')}", approver_users=admins,
                  expert_users=[u for u in os.environ.get("VLASS_DEMO_EXPERTS", "alice,admin").split(",") if u],
                  search_quota=os.environ.get("VLASS_SEARCH_QUOTA") or None,
                  page_rate=os.environ.get("VLASS_PAGE_RATE") or None,  # the gallery's, per user (default 5/s)
                  processes=int(os.environ.get("VLASS_SERVICE_PROCESSES") or 1),
                  registry_db=os.environ.get("VLASS_REGISTRY_DB") or db_url, source_admin_users=admins,
                  # the sample `make demo-hub` builds; a job env without it (no `make sample-data`) starts empty
                  sample=os.environ.get("VLASS_SAMPLE", str(shared / "sample") if (shared / "sample").is_dir() else "")
                  or None,
                  capsules=os.environ.get("VLASS_CAPSULES", str(state / "capsules")),  # every user's published analyses
                  results=str(state / "results"))  # the hub-wide result cache's copies
# Idle servers are stopped (jupyterhub-idle-culler), so a server left open on a GPU node does not spend the
# allocation it was granted.
idle_timeout = int(os.environ.get("VLASS_IDLE_TIMEOUT", "3600"))
if idle_timeout > 0:
    c.JupyterHub.services.append({"name": "idle-culler", "command": [
        sys.executable, "-m", "vlass_spawners.idle_culler", f"--timeout={idle_timeout}",
        f"--cull-every={max(10, min(300, idle_timeout // 2))}"]})
    c.JupyterHub.load_roles.append({"name": "idle-culler", "services": ["idle-culler"], "scopes": [
        "list:users", "read:users:activity", "read:servers", "delete:servers"]})
extra = os.environ.get("VLASS_HUB_EXTRA_CONFIG")
if extra:
    load_subconfig(extra)  # noqa: F821
