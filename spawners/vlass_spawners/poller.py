"""One ``squeue`` per interval for the whole hub, however many servers are pending or running."""

from __future__ import annotations

import asyncio
import time

from jupyter_vlass.compute.scheduler import JobState
from jupyter_vlass.compute.slurm import SlurmSite
from jupyter_vlass.exceptions import SchedulerUnavailable


class Snapshot:
    """The queue as one ``squeue`` call saw it; ``error`` when Slurm did not answer."""

    def __init__(self, jobs: dict[str, JobState], taken_at: float, error: str | None = None):
        self.jobs, self.taken_at, self.error = jobs, taken_at, error


class SchedulerPoller:
    def __init__(self, site: SlurmSite, *, interval: float, job_name: str):
        self.site, self.interval, self.job_name = site, interval, job_name
        self.snapshot = Snapshot({}, 0.0, "not polled yet")
        self._watched: set[str] = set()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task | None = None

    def watch(self, job_id: str) -> None:
        self._watched.add(job_id)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._loop())

    def unwatch(self, job_id: str) -> None:
        self._watched.discard(job_id)

    async def _loop(self) -> None:
        while self._watched:
            await self.refresh(after=time.monotonic() - self.interval / 2)
            await asyncio.sleep(self.interval)

    async def refresh(self, *, after: float) -> Snapshot:
        """A snapshot taken no earlier than ``after`` (monotonic s); concurrent callers share one call."""
        async with self._lock:
            if self.snapshot.taken_at >= after:
                return self.snapshot
            taken_at = time.monotonic()
            try:
                self.snapshot = Snapshot(await self.site.queue(job_name=self.job_name), taken_at)
            except SchedulerUnavailable as error:
                self.snapshot = Snapshot(self.snapshot.jobs, taken_at, error.message)
            return self.snapshot

    async def state(self, job_id: str, *, after: float | None = None) -> tuple[JobState | None, Snapshot]:
        """The job's line in a snapshot at most one interval old (or taken after ``after``)."""
        self.watch(job_id)
        floor = time.monotonic() - self.interval * 1.5 if after is None else after
        snapshot = self.snapshot if self.snapshot.taken_at >= floor else await self.refresh(after=floor)
        return snapshot.jobs.get(job_id), snapshot


def shared_poller(hub_settings: dict, *, exec_prefix: tuple[str, ...], interval: float,
                  job_name: str) -> SchedulerPoller:
    """The hub's one poller for these settings, kept in the hub's settings (created on first use)."""
    pollers = hub_settings.setdefault("vlass_scheduler_pollers", {})
    key = (exec_prefix, interval, job_name)
    if key not in pollers:
        pollers[key] = SchedulerPoller(SlurmSite(exec_prefix=exec_prefix), interval=interval, job_name=job_name)
    return pollers[key]
