"""What a hub's ``jupyterhub_config.py`` needs for this service: the managed service, its scope, the roles."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable

DECIDE_SCOPE = "custom:vlass-approvals:decide"
VOTE_SCOPE = "custom:vlass-experts:vote"
EXPERTS_GROUP = "vlass-experts"


def add_vlass_service(c, *, db_url: str, profiles: str, url: str = "http://127.0.0.1:10101",
                      approver_users: Iterable[str] = (), approver_groups: Iterable[str] = (),
                      keys: str | None = None, expert_users: Iterable[str] = (),
                      expert_groups: Iterable[str] = (EXPERTS_GROUP,), search_quota: str | None = None) -> None:
    """Run the approvals/allocations service under the hub; give approvers the scope to decide (and to
    override the publish gate), experts (members of the ``vlass-experts`` group by default) the scope to
    vote on detections and mark published results, and users' servers the scope to reach it (their
    analysis jobs are authorized and charged there, their capsules signed with the site's key in ``keys``,
    default ``vlass-keys`` in the hub's directory). ``search_quota`` (such as ``"600/h"``): the searches each
    user may make, across all their servers."""
    keys = os.path.abspath(keys or "vlass-keys")
    c.JupyterHub.services = [{
        "name": "vlass",
        "url": url,
        "command": [sys.executable, "-m", "jupyter_vlass.hubservice", "--db", db_url, "--profiles", profiles,
                    "--keys", keys, *(["--search-quota", search_quota] if search_quota else [])],
        "oauth_no_confirm": True,
        "oauth_client_allowed_scopes": [DECIDE_SCOPE, VOTE_SCOPE],
    }]
    c.JupyterHub.custom_scopes = {
        DECIDE_SCOPE: {"description": "Approve or deny large compute requests; override the publish gate."},
        VOTE_SCOPE: {"description": "Vote on detections and mark published results Updated or Retracted."}}
    c.JupyterHub.load_roles = [
        {"name": "user", "scopes": ["self", "access:services"]},
        # A server's token acts for its user: JupyterHub intersects these scopes with the user's own, so an
        # expert's server (the overlay, the CLI, `audit recheck` in it) may vote and an approver's may decide,
        # and nobody else's.
        {"name": "server", "scopes": ["users:activity!user", "access:servers!server",
                                      "access:services!service=vlass", VOTE_SCOPE, DECIDE_SCOPE]},
        {"name": "vlass-approvers", "scopes": [DECIDE_SCOPE, "access:services"],
         "users": list(approver_users), "groups": list(approver_groups)},
        {"name": "vlass-experts", "scopes": [VOTE_SCOPE, "access:services"],
         "users": list(expert_users), "groups": list(expert_groups)},
    ]
    c.VlassProfilesSpawner.hub_service_url = url.rstrip("/") + "/services/vlass/"
