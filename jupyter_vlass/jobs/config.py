"""The jobs configuration that the command line, the Python API and the server extension share.

Sites, profiles and the jobs directory come from a file (JSON or YAML; by default
``$JUPYTER_VLASS_JOBS_CONFIG``)::

    sites: {local: {kind: local}, slurm: {kind: slurm, environment: /opt/vlass-jobenv}}
    profiles: /etc/jupyterhub/profiles.yaml
    jobs_dir: /scratch/me/vlass-jobs
    account: alice          # only when run as root: the account jobs run as
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path

import yaml

from ..exceptions import InvalidArgument

CONFIG_ENV = "JUPYTER_VLASS_JOBS_CONFIG"
CONFIG_KEYS = {"sites", "profiles", "jobs_dir", "account"}


def read_config(path: str) -> dict:
    """The jobs config file (JSON or YAML), its keys checked."""
    try:
        config = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as error:
        raise InvalidArgument(f"jobs config {path}: {error}") from None
    if not isinstance(config, dict) or set(config) - CONFIG_KEYS:
        raise InvalidArgument(f"jobs config {path}: expected an object with keys {', '.join(sorted(CONFIG_KEYS))}")
    return config


def configured() -> dict:
    """The file of ``$JUPYTER_VLASS_JOBS_CONFIG`` read, or ``{}`` when it is not set."""
    return read_config(os.environ[CONFIG_ENV]) if os.environ.get(CONFIG_ENV) else {}


def open_jobs(*, config: str | None = None, db: str | None = None, root: str = "."):
    """The caller's :class:`~jupyter_vlass.jobs.jobs.Jobs` with the sites, profiles and jobs directory of
    ``config`` (a file path; default ``$JUPYTER_VLASS_JOBS_CONFIG``, else the local site only)."""
    # Imported when called: the server extension reads the configuration at start without the registry.
    from ..compute.profiles import load_profiles
    from ..federation.registry import Registry
    from .hub_accounts import HubAccounts
    from .jobs import Jobs
    from .sites import sites_from_config

    settings = read_config(config) if config else configured()
    sites = sites_from_config(settings.get("sites") or {"local": {"kind": "local"}},
                              account=settings.get("account"))
    profiles = load_profiles(settings["profiles"]) if settings.get("profiles") else None
    registry = Registry(db)
    # Under a hub, every path (the CLI, the Python API, replay, fork) is authorized and charged as the server's is.
    return Jobs(registry, sites=sites, root=root, owner=getpass.getuser(), profiles=profiles,
                jobs_dir=settings.get("jobs_dir"), groups=registry.groups, accounts=HubAccounts.from_environment())
