"""Allocation ledger: service units (SU) per project = node-hours x the partition's charge rate.

Fed by Slurm accounting (``sacct``): finished jobs are charged their final elapsed time, running
jobs what they have used so far. A request that would overdraw is refused with the balance.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ..exceptions import AllocationExceeded, InvalidArgument
from ..patterns import PLAIN_NAME
from ..store import AllocationRow, ChargeRow, ProjectMemberRow, UserIdentityRow
from ..store.times import utcnow
from .resources import ResourceRequest
from .scheduler import PENDING_STATES, RUNNING_STATES, AccountedJob
from .slurm import SlurmSite


@dataclass(frozen=True)
class Balance:
    project: str
    granted: float
    spent: float  # finished jobs
    running: float  # jobs still running, so far

    @property
    def available(self) -> float:
        return self.granted - self.spent - self.running

    def to_json(self) -> dict:
        """Figures to 0.001 SU; ``available_su`` is computed from the rounded parts so that they add up."""
        granted, spent, running = (round(v, 3) for v in (self.granted, self.spent, self.running))
        return {"project": self.project, "granted_su": granted, "spent_su": spent, "running_su": running,
                "available_su": round(granted - spent - running, 3)}

    def __str__(self) -> str:
        return (f"project {self.project} has {self.available:.1f} SU left "
                f"(granted {self.granted:.1f}, spent {self.spent:.1f}, running jobs {self.running:.1f})")


class Ledger:
    def __init__(self, sessions: sessionmaker[Session], *, cluster: str):
        self._sessions = sessions
        self.cluster = cluster

    def grant(self, project: str, su: float, *, by: str) -> None:
        """Set the project's allocation to ``su`` service units."""
        if not isinstance(project, str) or not PLAIN_NAME.match(project):
            raise InvalidArgument(f"project: must match {PLAIN_NAME.pattern}")
        if isinstance(su, bool) or not isinstance(su, (int, float)) or not math.isfinite(su) or su < 0:
            raise InvalidArgument("granted_su: must be a finite, non-negative number of SU")
        with self._sessions.begin() as session:
            row = session.get(AllocationRow, project)
            if row is None:
                session.add(AllocationRow(project=project, granted_su=su, updated_at=utcnow(), updated_by=by))
            else:
                row.granted_su, row.updated_at, row.updated_by = su, utcnow(), by

    def record(self, jobs: Iterable[AccountedJob], rates: Mapping[str, float]) -> int:
        """Upsert charges from accounting records; returns how many rows changed."""
        changed = 0
        with self._sessions.begin() as session:
            for job in jobs:
                if job.state in PENDING_STATES or not job.account:
                    continue
                su = job.nodes * job.elapsed_s / 3600 * rates.get(job.partition, 1.0)
                final = job.state not in RUNNING_STATES
                row = session.get(ChargeRow, (self.cluster, job.job_id))
                if row is None:
                    session.add(ChargeRow(cluster=self.cluster, job_id=job.job_id, user=job.user,
                                          project=job.account, partition=job.partition, nodes=job.nodes,
                                          gpus=job.gpus, elapsed_s=job.elapsed_s, su=su, state=job.state,
                                          final=final, updated_at=utcnow()))
                    changed += 1
                elif not row.final and (row.elapsed_s, row.state) != (job.elapsed_s, job.state):
                    row.elapsed_s, row.su, row.state, row.final, row.updated_at = (
                        job.elapsed_s, su, job.state, final, utcnow())
                    changed += 1
        return changed

    def balance(self, project: str) -> Balance:
        with self._sessions() as session:
            granted = session.scalar(select(AllocationRow.granted_su).where(AllocationRow.project == project))
            sums = dict(session.execute(
                select(ChargeRow.final, func.coalesce(func.sum(ChargeRow.su), 0.0))
                .where(ChargeRow.project == project).group_by(ChargeRow.final)).all())
        return Balance(project, granted or 0.0, float(sums.get(True, 0.0)), float(sums.get(False, 0.0)))

    def check(self, project: str, request: ResourceRequest, rate: float) -> Balance:
        """Refuse ``request`` if its full walltime would overdraw the project; returns the balance."""
        balance = self.balance(project)
        cost = request.node_hours * rate
        if cost > balance.available + 1e-9:
            raise AllocationExceeded(
                f"Not enough allocation: {request.describe()} may use {cost:.1f} SU but {balance}.")
        return balance

    def add_member(self, user: str, project: str) -> None:
        """``user`` charges ``project`` (the spawner says so at each start)."""
        with self._sessions.begin() as session:
            session.merge(ProjectMemberRow(user=user, project=project, updated_at=utcnow()))

    def record_identity(self, user: str, orcid: str | None) -> None:
        """What ``user``'s login says of them (the spawner, at each start): their ORCID iD's URL, or None."""
        with self._sessions.begin() as session:
            session.merge(UserIdentityRow(user=user, orcid=orcid, updated_at=utcnow()))

    def orcid_of(self, user: str) -> str | None:
        with self._sessions() as session:
            row = session.get(UserIdentityRow, user)
            return row.orcid if row else None

    def is_member(self, user: str, project: str) -> bool:
        with self._sessions() as session:
            return session.get(ProjectMemberRow, (user, project)) is not None

    def projects_of(self, user: str) -> set[str]:
        with self._sessions() as session:
            return set(session.scalars(select(ProjectMemberRow.project).where(ProjectMemberRow.user == user)))

    def charge_job(self, *, cluster: str, job_id: str, user: str, project: str, su: float, elapsed_s: float,
                   state: str, partition: str = "", nodes: int = 1, gpus: int = 0) -> bool:
        """Charge one finished analysis job (once: a second report of the same job changes nothing, and a
        Slurm job that ``sacct`` already charged keeps that charge). Returns whether it was new."""
        if isinstance(su, bool) or not isinstance(su, (int, float)) or not math.isfinite(su) or not 0 <= su < 1e9:
            raise InvalidArgument("su: a finite, non-negative number of service units")
        with self._sessions.begin() as session:
            row = session.get(ChargeRow, (cluster, job_id))
            if row is not None and row.final:
                return False
            if row is None:
                session.add(ChargeRow(cluster=cluster, job_id=job_id, user=user, project=project,
                                      partition=partition, nodes=nodes, gpus=gpus, elapsed_s=int(elapsed_s), su=su,
                                      state=state, final=True, updated_at=utcnow()))
            else:
                row.su, row.elapsed_s, row.state, row.final, row.updated_at = su, int(elapsed_s), state, True, utcnow()
        return True

    def charges(self, *, user: str | None = None, project: str | None = None) -> list[ChargeRow]:
        query = select(ChargeRow).order_by(ChargeRow.updated_at.desc())
        if user:
            query = query.where(ChargeRow.user == user)
        if project:
            query = query.where(ChargeRow.project == project)
        with self._sessions() as session:
            return list(session.scalars(query))


class LedgerSync:
    """Charges from ``sacct`` into the ledger, at most once per ``min_interval`` s (an awaitable call)."""

    def __init__(self, ledger: Ledger, profiles, *, min_interval: float = 2.0):
        self.ledger, self.profiles, self.min_interval = ledger, profiles, min_interval
        self._at = 0.0

    async def __call__(self) -> None:
        import time

        from astropy.time import Time, TimeDelta

        if self.profiles is None or time.monotonic() - self._at < self.min_interval:
            return
        jobs = await SlurmSite(exec_prefix=()).accounting(since=Time.now() - TimeDelta(7, format="jd"))
        self._at = time.monotonic()
        rates = {name: p.charge_rate for name, p in self.profiles.partitions.items()}
        self.ledger.record(jobs, rates)
