"""The user's server asking the hub service about its analysis jobs: may one run, and what it cost.

Shared state (allocations, approvals, the ledger) lives in the hub service; the server reaches it with
its own hub token (the ``server`` role gets ``access:services!service=vlass``) at
``$JUPYTER_VLASS_HUB_SERVICE``, charging ``$JUPYTER_VLASS_PROJECT`` (both set by the spawner).
The service's ``{message, reason}`` errors come back as the same typed exceptions.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from ..exceptions import Forbidden, NotFound
from ..hub_client import HubServiceClient, service_from_environment
from .archive import pack_files
from .job_records import MAX_EVIDENCE, is_evidence
from .manifest import JobManifest
from .outputs import opened

PROJECT_ENV = "JUPYTER_VLASS_PROJECT"
SLOW_TIMEOUT = 300.0  # seconds for a result's files to go to the service or come back


class HubAccounts(HubServiceClient):
    def __init__(self, service_url: str, *, token: str, project: str | None, timeout: float = 30.0):
        super().__init__(service_url, token=token, timeout=timeout)
        self.project = project

    @classmethod
    def from_environment(cls) -> HubAccounts | None:
        """The hub's accounts when this process runs under a hub with the service (a server, its kernels and
        terminals); None otherwise. Without a project there, every job is refused: none runs unauthorized."""
        found = service_from_environment()
        return cls(found[0], token=found[1], project=os.environ.get(PROJECT_ENV) or None) if found else None

    def _post(self, path: str, body: dict) -> dict:
        return self.request("POST", path, {"project": self.project, **body})

    def authorize(self, *, site_kind: str, profile: str | None, resources: dict | None, dask=None,
                  job: dict) -> dict:
        """The balance (and the approval used) when the job may run; AwaitingApproval, ApprovalDenied,
        AllocationExceeded or Forbidden when it may not. ``job``: what the service records of it (:func:`recorded`)."""
        if self.project is None:
            raise Forbidden(f"this server runs under a hub but charges no project (${PROJECT_ENV} is not set), "
                            "so the hub service cannot authorize the job: ask the hub's admins")
        return self._post("api/jobs/authorize", {**job, "site_kind": site_kind, "profile": profile,
                                                 "resources": resources or {}, "dask": dict(dask) if dask else None})

    def charge(self, *, site_kind: str, job_id: str, su: float, elapsed_s: float, state: str) -> dict:
        """Record a local job's cost; for a Slurm job, what Slurm's accounting charged (``su``)."""
        return self._post("api/jobs/charges", {"site_kind": site_kind, "job_id": job_id, "su": su,
                                               "elapsed_s": elapsed_s, "state": state})

    def report(self, **ended) -> None:
        """How an ended job went (for the hub's dashboard): job_id, site, site_kind, state, submitted, cached,
        queue_wait_s, su."""
        self._post("api/jobs/reports", ended)

    def record_outputs(self, row, run_id: str, *, ran: bool) -> None:
        """What an ended job (a ``JobRow``; ``ran``: not answered by the cache) wrote, on the service's record of
        it: :func:`recorded`'s fields, :func:`ended_outputs`', state, reason and cached. The service keeps the
        first it is told."""
        self._post("api/jobs/outputs", {**recorded(run_id, row.site, JobManifest.from_json(row.manifest)),
                                        **ended_outputs(row.result, evidence=ran), "state": row.state,
                                        "reason": row.reason, "cached": row.cached_from is not None})


    def cached_result(self, key: str) -> dict | None:
        """The hub-wide cache's result ``key`` (its files and the job that computed it), or None when the hub
        holds none this user may read."""
        try:
            return self.request("GET", f"api/results/{key}")
        except NotFound:
            return None

    def result_archive(self, key: str) -> bytes:
        with self.stream(f"api/results/{key}/archive", timeout=SLOW_TIMEOUT) as answer:
            return answer.read()

    def offer_result(self, key: str, run_id: str, location: Path, files: list[dict]) -> dict:
        """Offer a job's outputs to the hub-wide cache (the service keeps them only under the key it computed)."""
        return self.request("POST", f"api/results/{key}", params={"job_id": run_id},
                            data=pack_files(location, [f["name"] for f in files]),
                            headers={"Content-Type": "application/x-tar"}, timeout=SLOW_TIMEOUT)


def recorded(run_id: str, site: str, manifest) -> dict:
    """What the hub service records of a job (a ``JobManifest``) it authorizes: its id and attempt, the site,
    the notebook, the dataset versions it reads and its parameters."""
    return {"job_id": run_id, "site": site, "notebook": manifest.notebook_path,
            "inputs": [[p.id, p.version] for p in manifest.inputs], "parameters": dict(manifest.parameters)}


def ended_outputs(result: dict | None, *, evidence: bool) -> dict:
    """An ended job's outputs for the hub service: ``{name: sha256}`` of each, and (``evidence``: the job ran
    here, not answered by the cache) the bytes of those a consensus is computed from, read without links."""
    files = (result or {}).get("files") or []
    found = {"outputs": {f["name"]: f["sha256"] for f in files}, "evidence": {}}
    if evidence and (result or {}).get("location"):
        for f in files:
            if is_evidence(f["name"]) and f["size"] <= MAX_EVIDENCE:
                with opened(Path(result["location"]), f["name"]) as fd, os.fdopen(os.dup(fd), "rb") as fh:
                    found["evidence"][f["name"]] = base64.b64encode(fh.read()).decode("ascii")
    return found


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
