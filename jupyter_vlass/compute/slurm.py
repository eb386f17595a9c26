"""A Slurm site: submit, estimate, query, cancel and account, each one argv through ``run``.

``as_user`` commands are prefixed with ``exec_prefix`` (``sudo -E -u <account>`` when the hub runs
as root) so that jobs belong to the user's own unix account.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from astropy.time import Time

from ..exceptions import InvalidRequest, SchedulerUnavailable
from ..patterns import UNIX_ACCOUNT
from . import scheduler
from .runner import Completed, run
from .ssh import over_ssh

_UNREACHABLE = ("Unable to contact slurm controller", "Socket timed out", "Connection refused",
                "Zero Bytes were transmitted", "munge", "Communication connection failure")


def unix_account(name: str) -> str:
    """A POSIX account name, refused unless it is one (it becomes an argv item for sudo)."""
    if not isinstance(name, str) or not UNIX_ACCOUNT.match(name):
        raise InvalidRequest(f"unix account: {str(name)[:40]!r} is not a valid account name")
    return name


@dataclass
class SlurmSite:
    """``remote``: the ssh argv of a login node (:mod:`.ssh`); commands then run there as its user."""

    exec_prefix: Sequence[str] = ("sudo", "-E", "-u", "{account}")
    timeout: float = 30.0
    remote: Sequence[str] = ()

    def _prefix(self, account: str | None) -> list[str]:
        if account is None or self.remote:
            return []
        account = unix_account(account)
        return [account if part == "{account}" else part for part in self.exec_prefix]

    async def _run(self, argv: list[str], *, account: str | None = None, env: Mapping[str, str] | None = None,
                   input: str | None = None) -> Completed:
        command = self._prefix(account) + argv
        if self.remote:
            command = over_ssh(self.remote, command)
        try:
            done = await run(command, env=dict(env) if env is not None else None, input=input, timeout=self.timeout)
        except asyncio.TimeoutError:
            raise SchedulerUnavailable(f"{argv[0]} did not answer within {self.timeout:g} s") from None
        if self.remote and done.returncode == 255:  # ssh's own failure: the login node is not reachable
            raise SchedulerUnavailable(f"the login node did not answer: {done.stderr.strip()[:200]}")
        if done.returncode != 0 and any(marker in done.stderr for marker in _UNREACHABLE):
            raise SchedulerUnavailable(f"Slurm is not answering: {done.stderr.strip()[:200]}")
        return done

    async def submit(self, script: str, *, account: str, env: Mapping[str, str]) -> str:
        done = await self._run(scheduler.sbatch_argv(), account=account, env=env, input=script)
        if done.returncode != 0:
            raise scheduler.refusal(done.stderr)
        return scheduler.parse_job_id(done.stdout)

    async def prepare_logs(self, folder: str, *, account: str, name: str, keep_days: int) -> None:
        """The folder the account's server logs go to, made by the account itself (Slurm opens ``--output``
        before the job runs and makes no folder); ``name-*.log`` files an older release left beside it moved in;
        those older than ``keep_days`` removed (``find -P``: a link is neither followed nor moved nor removed)."""
        parent = folder.rstrip("/").rpartition("/")[0] or "/"
        for argv in (["mkdir", "-p", "-m", "0700", "--", folder],
                     ["find", parent, "-maxdepth", "1", "-type", "f", "-name", f"{name}-*.log",
                      "-exec", "mv", "-n", "-t", folder, "--", "{}", "+"],
                     ["find", folder, "-maxdepth", "1", "-type", "f", "-name", f"{name}-*.log",
                      "-mtime", f"+{int(keep_days)}", "-delete"]):
            done = await self._run(argv, account=account)
            if done.returncode != 0:
                raise InvalidRequest(f"the server logs folder {folder}: {done.stderr.strip()[:200]}")

    async def estimate_start(self, script: str, *, account: str, env: Mapping[str, str]) -> scheduler.StartEstimate:
        done = await self._run(scheduler.sbatch_argv(test_only=True), account=account, env=env, input=script)
        return scheduler.parse_test_only(done.returncode, done.stderr)

    async def queue(self, *, job_name: str | None = None) -> dict[str, scheduler.JobState]:
        done = await self._run(scheduler.squeue_argv(job_name=job_name))
        if done.returncode != 0:
            raise SchedulerUnavailable(f"squeue failed: {done.stderr.strip()[:200]}")
        return scheduler.parse_squeue(done.stdout)

    async def cancel(self, job: str, *, account: str | None = None) -> None:
        done = await self._run(scheduler.scancel_argv(job), account=account)
        if done.returncode != 0 and "Invalid job id" not in done.stderr:
            raise SchedulerUnavailable(f"scancel {job} failed: {done.stderr.strip()[:200]}")

    async def gpu_indices(self, job: str) -> list[int]:
        done = await self._run(scheduler.scontrol_job_argv(job))
        return scheduler.parse_gpu_indices(done.stdout) if done.returncode == 0 else []

    async def accounting(self, *, since: Time, job_name: str | None = None,
                         job: str | None = None) -> list[scheduler.AccountedJob]:
        done = await self._run(scheduler.sacct_argv(since=since, job_name=job_name, job=job))
        if done.returncode != 0:
            raise SchedulerUnavailable(f"sacct failed: {done.stderr.strip()[:200]}")
        return scheduler.parse_sacct(done.stdout)
