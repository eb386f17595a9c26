"""The user's server asking the hub service about its analysis jobs: may one run, and what it cost.

Shared state (allocations, approvals, the ledger) lives in the hub service; the server reaches it with
its own hub token (the ``server`` role gets ``access:services!service=vlass``) at
``$JUPYTER_VLASS_HUB_SERVICE``, charging ``$JUPYTER_VLASS_PROJECT`` (both set by the spawner).
The service's ``{message, reason}`` errors come back as the same typed exceptions.
"""

from __future__ import annotations

import os

from ..hub_client import HubServiceClient, service_from_environment

PROJECT_ENV = "JUPYTER_VLASS_PROJECT"


class HubAccounts(HubServiceClient):
    def __init__(self, service_url: str, *, token: str, project: str, timeout: float = 30.0):
        super().__init__(service_url, token=token, timeout=timeout)
        self.project = project

    @classmethod
    def from_environment(cls) -> HubAccounts | None:
        """The hub's accounts when this server runs under a hub with the service; None otherwise."""
        found, project = service_from_environment(), os.environ.get(PROJECT_ENV)
        return cls(found[0], token=found[1], project=project) if found and project else None

    def _post(self, path: str, body: dict) -> dict:
        return self.request("POST", path, {"project": self.project, **body})

    def authorize(self, *, site_kind: str, profile: str | None, resources: dict | None, dask=None) -> dict:
        """The balance (and the approval used) when the job may run; AwaitingApproval, ApprovalDenied,
        AllocationExceeded or Forbidden when it may not."""
        return self._post("api/jobs/authorize", {"site_kind": site_kind, "profile": profile,
                                                 "resources": resources or {}, "dask": dict(dask) if dask else None})

    def charge(self, *, site_kind: str, job_id: str, su: float, elapsed_s: float, state: str) -> dict:
        """Record a local job's cost; for a Slurm job, what Slurm's accounting charged (``su``)."""
        return self._post("api/jobs/charges", {"site_kind": site_kind, "job_id": job_id, "su": su,
                                               "elapsed_s": elapsed_s, "state": state})

    def report(self, **ended) -> None:
        """How an ended job went (for the hub's dashboard): job_id, site, site_kind, state, submitted,
        cached, queue_wait_s, su."""
        self._post("api/jobs/reports", ended)


def waits_of(row, site) -> tuple[float | None, float | None]:
    """``(queue wait, status lag)`` in seconds of an ended job (a ``JobRow``) that ran at ``site`` (None: it
    did not run). The site's own records (Slurm's accounting) come first: a job that started and ended
    between two polls was never seen running, so then the lag is how late its end was seen."""
    if site is None:
        return None, None
    timing = site.timings(row.site_job_id, since=row.created_at)
    wait = timing.get("queue_wait_s")
    if wait is None and row.started_at:
        wait = (row.started_at - row.created_at).total_seconds()
    lag = row.status_lag_s
    if lag is None and timing.get("ended") and row.ended_at:
        lag = max(0.0, (row.ended_at - timing["ended"]).total_seconds())
    return wait, lag
