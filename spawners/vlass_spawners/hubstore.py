"""The hub process's handle on shared state: ledger, approvals and the admins' profiles file."""

from __future__ import annotations

import asyncio
import os
import time
from functools import cache

from astropy.time import Time, TimeDelta

from jupyter_vlass.compute.approvals import Approvals
from jupyter_vlass.compute.ledger import Ledger
from jupyter_vlass.compute.profiles import ProfileFile, ProfileSet
from jupyter_vlass.compute.slurm import SlurmSite
from jupyter_vlass.exceptions import VlassError
from jupyter_vlass.store import make_engine, session_factory

HUB_DB_ENV = "JUPYTER_VLASS_HUB_DB"
LEDGER_WINDOW_DAYS = 365


class HubStore:
    def __init__(self, url: str):
        self.url = url
        self._sessions = session_factory(make_engine(url))
        self._profile_files: dict[str, ProfileFile] = {}
        self._synced_at = 0.0
        self._background: set[asyncio.Task] = set()

    @classmethod
    @cache
    def for_url(cls, url: str) -> HubStore:
        return cls(url or os.environ.get(HUB_DB_ENV) or "sqlite:///jupyterhub-vlass.sqlite")

    def profiles(self, path: str) -> ProfileSet:
        if path not in self._profile_files:
            self._profile_files[path] = ProfileFile(path)
        return self._profile_files[path].current()

    def profiles_error(self, path: str) -> str | None:
        file = self._profile_files.get(path)
        return file.error if file else None

    def ledger(self, path: str) -> Ledger:
        return Ledger(self._sessions, cluster=self.profiles(path).site)

    def approvals(self, path: str) -> Approvals:
        return Approvals(self._sessions, threshold_gpu_hours=self.profiles(path).approval_threshold_gpu_hours)

    def _loaded(self) -> list[ProfileSet]:
        return [f.current() for f in self._profile_files.values()]

    def rate(self, path: str, partition: str) -> float:
        limits = self.profiles(path).partitions.get(partition)
        return limits.charge_rate if limits else 1.0

    def rates(self) -> dict[str, float]:
        rates: dict[str, float] = {}
        for profiles in self._loaded():
            rates.update({name: p.charge_rate for name, p in profiles.partitions.items()})
        return rates

    async def sync_ledger(self, path: str, site: SlurmSite, *, min_interval: float = 30.0, wait: bool = True) -> None:
        """Charge finished and running jobs from ``sacct``, at most once per ``min_interval`` s.

        With ``wait=False`` a sync that is due runs in the background (the ledger is then at most
        ``min_interval`` s behind), except the first one, which every check waits for.
        """
        if time.monotonic() - self._synced_at < min_interval:
            return
        first = self._synced_at == 0.0
        self._synced_at = time.monotonic()
        if wait or first:
            await self._sync(path, site)
        else:
            task = asyncio.get_running_loop().create_task(self._sync(path, site))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _sync(self, path: str, site: SlurmSite) -> None:
        try:
            jobs = await site.accounting(since=Time.now() - TimeDelta(LEDGER_WINDOW_DAYS, format="jd"))
        except VlassError:
            self._synced_at = 0.0  # try again at the next check
            raise
        self.ledger(path).record(jobs, self.rates())
