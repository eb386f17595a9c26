"""What a hub's ``jupyterhub_config.py`` needs for this service: the managed service, its scope, the roles."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable

DECIDE_SCOPE = "custom:vlass-approvals:decide"
VOTE_SCOPE = "custom:vlass-experts:vote"
SOURCES_SCOPE = "custom:vlass-sources:manage"
EXPERTS_GROUP = "vlass-experts"
DB_ENV, REGISTRY_DB_ENV = "JUPYTER_VLASS_SERVICE_DB", "JUPYTER_VLASS_SERVICE_REGISTRY_DB"
CAPSULES_ENV = "JUPYTER_VLASS_SERVICE_CAPSULES"
RESULTS_ENV = "JUPYTER_VLASS_SERVICE_RESULTS"
PROCESSES_ENV = "JUPYTER_VLASS_SERVICE_PROCESSES"


def add_vlass_service(c, *, db_url: str, profiles: str, url: str = "http://127.0.0.1:10101",
                      approver_users: Iterable[str] = (), approver_groups: Iterable[str] = (),
                      keys: str | None = None, expert_users: Iterable[str] = (),
                      expert_groups: Iterable[str] = (EXPERTS_GROUP,), search_quota: str | None = None,
                      registry_db: str | None = None, sample: str | None = None,
                      source_admin_users: Iterable[str] = (), source_admin_groups: Iterable[str] = (),
                      capsules: str | None = None, results: str | None = None, processes: int = 1,
                      page_rate: str | None = None) -> None:
    """Run the approvals/allocations service under the hub; give approvers the scope to decide (and to
    override the publish gate), experts (members of the ``vlass-experts`` group by default) the scope to
    vote on detections and mark published results, and users' servers the scope to reach it (their
    analysis jobs are authorized and charged there, their capsules signed with the site's key in ``keys``,
    default ``vlass-keys`` in the hub's directory). ``search_quota`` (such as ``"600/h"``): the searches each
    user may make, across all their servers; ``page_rate`` (default ``"5/s"``, ten seconds' worth at once): the gallery pages,
    its JSON and provenance exports each user may ask for, per service process.

    The service holds the dataset registry (``registry_db``, default ``db_url``) and answers every user's
    discovery there; only ``source_admin_users`` and ``source_admin_groups`` may add and sync
    its sources (give them the hub's admins). ``sample``: a ``jupyter-vlass demo-data`` folder registered and synced into an empty registry
    at the service's start. Users' servers get ``JUPYTER_VLASS_REGISTRY=hub``, and no database URL.

    Published capsules go to the service's store, ``capsules`` (a folder, default ``vlass-capsules`` in the hub's
    directory, or ``s3://bucket/prefix``), where every user of the hub finds them; users' servers get
    ``JUPYTER_VLASS_CAPSULES=hub``. ``results``: the folder of the hub-wide result cache's copies (default
    ``vlass-results`` in the hub's directory), which only the service's account reads.

    ``processes``: service processes answering on the service's one port (the service keeps nothing but its
    database, so a big hub runs several on one PostgreSQL)."""
    keys = os.path.abspath(keys or "vlass-keys")
    capsules = capsules if capsules and capsules.startswith("s3://") else os.path.abspath(capsules or "vlass-capsules")
    results = os.path.abspath(results or "vlass-results")
    c.JupyterHub.services = [{
        "name": "vlass",
        "url": url,
        # The database URLs (a PostgreSQL password in them) go in the service's environment, which only its own
        # account reads, never on its command line, which every local account can (/proc/PID/cmdline).
        "command": [sys.executable, "-m", "jupyter_vlass.hubservice", "--profiles", profiles, "--keys", keys,
                    *(["--search-quota", search_quota] if search_quota else []),
                    *(["--page-rate", page_rate] if page_rate else []),
                    *(["--sample", sample] if sample else [])],
        "environment": {DB_ENV: db_url, REGISTRY_DB_ENV: registry_db or db_url, CAPSULES_ENV: capsules,
                        RESULTS_ENV: results, PROCESSES_ENV: str(int(processes))},
        "oauth_no_confirm": True,
        "oauth_client_allowed_scopes": [DECIDE_SCOPE, VOTE_SCOPE, SOURCES_SCOPE],
    }]
    c.JupyterHub.custom_scopes = {
        DECIDE_SCOPE: {"description": "Approve or deny large compute requests; override the publish gate."},
        VOTE_SCOPE: {"description": "Vote on detections and mark published results Updated or Retracted."},
        SOURCES_SCOPE: {"description": "Add and sync the sources of the hub's dataset registry."}}
    c.JupyterHub.load_roles = [
        {"name": "user", "scopes": ["self", "access:services"]},
        # A server's token acts for its user: JupyterHub intersects these scopes with the user's own, so an
        # expert's server (the overlay, the CLI, `audit recheck` in it) may vote and an approver's may decide,
        # and nobody else's.
        {"name": "server", "scopes": ["users:activity!user", "access:servers!server",
                                      "access:services!service=vlass", VOTE_SCOPE, DECIDE_SCOPE, SOURCES_SCOPE]},
        {"name": "vlass-approvers", "scopes": [DECIDE_SCOPE, "access:services"],
         "users": list(approver_users), "groups": list(approver_groups)},
        {"name": "vlass-experts", "scopes": [VOTE_SCOPE, "access:services"],
         "users": list(expert_users), "groups": list(expert_groups)},
        {"name": "vlass-source-admins", "scopes": [SOURCES_SCOPE, "access:services"],
         "users": list(source_admin_users), "groups": list(source_admin_groups)},
        # The service reads the hub's groups: an institute's provenance report of a group's analyses.
        {"name": "vlass-service", "scopes": ["read:groups"], "services": ["vlass"]},
    ]
    # The service's registry and capsule store, not ones of the user's own.
    c.Spawner.environment.update({"JUPYTER_VLASS_REGISTRY": "hub", "JUPYTER_VLASS_CAPSULES": "hub"})
    c.VlassProfilesSpawner.hub_service_url = url.rstrip("/") + "/services/vlass/"
