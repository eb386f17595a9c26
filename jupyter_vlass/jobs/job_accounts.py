"""What the hub service decides for an analysis job: may it run, and what it cost.

A job is charged to a project its user charges (the spawner records who charges what at each start).
On the Slurm site the service rebuilds the resource request from the profile itself (the user's server
only names the profile and the options), files or uses an admin approval above the GPU-hour threshold,
and refuses a request that could overdraw the allocation. What a Slurm job cost comes from Slurm's own
accounting (``sacct``, the same ledger rows as servers); a local job's cost is the elapsed time its server
reports at the local rate, kept per user so that no one can touch another user's charges.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..exceptions import AllocationExceeded, Forbidden, InvalidArgument
from ..patterns import PLAIN_NAME
from ..compute.approvals import Approvals
from ..compute.ledger import Ledger
from ..compute.profiles import ProfileSet
from .dask_cluster import worker_request
from ..compute.resources import request_from_options


def _plain(value: object, field: str) -> str:
    if not isinstance(value, str) or not PLAIN_NAME.match(value):
        raise InvalidArgument(f"{field}: must match {PLAIN_NAME.pattern}")
    return value


class JobAccounting:
    def __init__(self, ledger: Ledger, approvals: Approvals, profiles: ProfileSet | None):
        self.ledger, self.approvals, self.profiles = ledger, approvals, profiles

    def member(self, user: str, project: object) -> str:
        project = _plain(project, "project")
        if not self.ledger.is_member(user, project):
            raise Forbidden(f"you do not charge project {project!r}")
        return project

    def authorize(self, *, user: str, groups: Iterable[str], body: dict) -> dict:
        """``body``: ``{project, site_kind, profile, resources}``; the balance (and approval) when allowed."""
        project = self.member(user, body.get("project"))
        kind = body.get("site_kind")
        if kind == "local":
            balance = self.ledger.balance(project)
            if balance.available <= 0:
                raise AllocationExceeded(f"Not enough allocation: {balance}.")
            return {"project": project, "cost_su": None, "approval": None, "balance": balance.to_json()}
        if kind != "slurm":
            raise InvalidArgument("site_kind: must be 'local' or 'slurm'")
        if self.profiles is None:
            raise InvalidArgument("this hub has no Slurm profiles")
        profile = self.profiles.get(_plain(body.get("profile"), "profile"), groups=list(groups))
        if profile.policy is None:
            raise InvalidArgument(f"profile: {profile.name!r} is not a Slurm profile")
        resources = body.get("resources") or {}
        if not isinstance(resources, dict):
            raise InvalidArgument("resources: must be an object")
        request = request_from_options(profile.policy, resources)
        limits = self.profiles.partitions.get(request.partition)
        rate = limits.charge_rate if limits else 1.0
        approval = self.approvals.gate(user=user, project=project, profile=profile.name, request=request)
        cost = request.node_hours * rate
        dask = body.get("dask")
        if dask:  # the Dask workers are Slurm jobs of the same project
            if not isinstance(dask, dict) or not isinstance(dask.get("workers"), int) or not 0 < dask["workers"] <= 64:
                raise InvalidArgument("dask: {workers: 1..64, cores, memory, walltime}")
            cost += dask["workers"] * worker_request(dask, request, self.profiles.partitions).node_hours * rate
        balance = self.ledger.balance(project)
        if cost > balance.available + 1e-9:
            raise AllocationExceeded(f"Not enough allocation: {request.describe()}"
                                     f"{' with its Dask workers' if dask else ''} may use {cost:.1f} SU but {balance}.")
        if approval is not None:
            self.approvals.mark_used(approval.id)
        return {"project": project, "cost_su": round(cost, 3),
                "approval": approval.id if approval else None, "balance": balance.to_json()}

    def charge_local(self, *, user: str, body: dict) -> dict:
        """``body``: ``{project, job_id, su, elapsed_s, state}`` of a job that ran on the user's own site."""
        project = self.member(user, body.get("project"))
        job_id = _plain(body.get("job_id"), "job_id")
        elapsed = body.get("elapsed_s")
        if isinstance(elapsed, bool) or not isinstance(elapsed, (int, float)) or not 0 <= elapsed < 1e9:
            raise InvalidArgument("elapsed_s: seconds, a number from 0")
        new = self.ledger.charge_job(cluster=f"local/{user}"[:64], job_id=job_id, user=user, project=project,
                                     su=body.get("su"), elapsed_s=elapsed, state=_plain(body.get("state"), "state"))
        return {"charged": new, "balance": self.ledger.balance(project).to_json()}

    def slurm_charge(self, *, user: str, project: object, job_id: object) -> dict:
        """What Slurm's accounting charged for ``job_id`` (after a ledger sync), for a project the user charges."""
        project = self.member(user, project)
        job_id = _plain(job_id, "job_id")
        cluster = self.profiles.site if self.profiles else "local"
        for charge in self.ledger.charges(project=project):
            if charge.cluster == cluster and charge.job_id == job_id:
                return {"charged": True, "su": charge.su, "final": charge.final, "state": charge.state,
                        "balance": self.ledger.balance(project).to_json()}
        return {"charged": False, "su": None, "final": False, "state": None,
                "balance": self.ledger.balance(project).to_json()}
