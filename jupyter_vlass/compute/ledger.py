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
from ..store import AllocationRow, ChargeRow
from ..store.times import utcnow
from .resources import ResourceRequest
from .scheduler import PENDING_STATES, RUNNING_STATES, AccountedJob


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

    def charges(self, *, user: str | None = None, project: str | None = None) -> list[ChargeRow]:
        query = select(ChargeRow).order_by(ChargeRow.updated_at.desc())
        if user:
            query = query.where(ChargeRow.user == user)
        if project:
            query = query.where(ChargeRow.project == project)
        with self._sessions() as session:
            return list(session.scalars(query))
