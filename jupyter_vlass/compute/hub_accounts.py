"""The user's server asking the hub service about its analysis jobs: may one run, and what it cost.

Shared state (allocations, approvals, the ledger) lives in the hub service; the server reaches it with
its own hub token (the ``server`` role gets ``access:services!service=vlass``) at
``$JUPYTER_VLASS_HUB_SERVICE``, charging ``$JUPYTER_VLASS_PROJECT`` (both set by the spawner).
The service's ``{message, reason}`` errors come back as the same typed exceptions.
"""

from __future__ import annotations

import os

from ..exceptions import SourceUnavailable, VlassError

SERVICE_ENV, PROJECT_ENV = "JUPYTER_VLASS_HUB_SERVICE", "JUPYTER_VLASS_PROJECT"


def _error_classes() -> dict[str, type[VlassError]]:
    found, todo = {}, [VlassError]
    while todo:
        cls = todo.pop()
        found.setdefault(cls.reason, cls)
        todo.extend(cls.__subclasses__())
    return found


class HubAccounts:
    def __init__(self, service_url: str, *, token: str, project: str, timeout: float = 30.0):
        self.url, self.project, self.timeout = service_url.rstrip("/") + "/", project, timeout
        self._headers = {"Authorization": f"token {token}"}

    @classmethod
    def from_environment(cls) -> HubAccounts | None:
        """The hub's accounts when this server runs under a hub with the service; None otherwise."""
        url, project = os.environ.get(SERVICE_ENV), os.environ.get(PROJECT_ENV)
        token = os.environ.get("JUPYTERHUB_API_TOKEN")
        return cls(url, token=token, project=project) if url and project and token else None

    def _post(self, path: str, body: dict) -> dict:
        import requests

        try:
            answer = requests.post(self.url + path, json={"project": self.project, **body}, headers=self._headers,
                                   timeout=self.timeout)
        except requests.RequestException as error:
            raise SourceUnavailable(f"the hub service did not answer ({type(error).__name__})") from None
        try:
            doc = answer.json()
        except ValueError:
            doc = {}
        if answer.status_code >= 400:
            cls = _error_classes().get(doc.get("reason"), VlassError)
            error = cls(doc.get("message") or f"the hub service answered {answer.status_code}")
            error.status = answer.status_code if cls is VlassError else cls.status
            raise error
        return doc

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
