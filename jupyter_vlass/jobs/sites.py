"""Where analysis jobs run, behind one small interface: ``local`` (a process on this machine) and
``slurm`` (a batch job from the packaged template, as the spawner submits servers).

Each runs ``python -m jupyter_vlass.jobs.execute <job directory>`` as the submitting user, never as
root, through :mod:`.runner`. A site reports only whether a job is pending (with Slurm's reason, queue
position and estimated start), running (and where) or gone; how it ended is in the job directory.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import signal
import sys
import threading
import time
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from ..compute import scheduler
from ..compute.batch import JobSpec, render_batch_script
from ..compute.messages import reason_text, when
from ..compute.resources import ResourceRequest
from ..compute.runner import start
from ..compute.slurm import SlurmSite, unix_account
from ..compute.ssh import LoginNode
from ..exceptions import InvalidRequest, SchedulerUnavailable, SiteUnavailable
from ..patterns import PLAIN_NAME
from .s3scratch import S3Scratch, StoreOptions, split_s3
from .staging import PosixScratch

EXECUTE = "jupyter_vlass.jobs.execute"
JOB_NAME = "vlass-analysis"


def run_sync(coroutine):
    """Run ``coroutine`` to the end from synchronous code, also where an event loop already runs (a
    notebook's kernel, a server's handler thread): then in a thread of its own, with a loop of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="vlass-slurm") as pool:
        return pool.submit(asyncio.run, coroutine).result()


@dataclass(frozen=True)
class SiteState:
    state: str  # pending | running | gone | unknown (the scheduler did not answer: keep the last state)
    detail: str = ""  # in words: Slurm's reason, queue position and estimated start; or where it runs
    nodes: str = ""
    started: datetime | None = None  # when the scheduler started it (UTC), where it says


class Site(ABC):
    """A place jobs run. ``account``: the unix account jobs run as when this process is root; ``rate``:
    service units per hour of a job (per node-hour on Slurm, unless its partition sets a charge rate);
    ``scratch``: where inputs are staged, a directory the site sees or ``s3://bucket/prefix`` (reached
    with ``store``: ``{endpoint_url, anon}``), kept under ``scratch_quota_gb``."""

    kind: str

    def __init__(self, name: str, *, python: str | None = None, account: str | None = None,
                 exec_prefix: tuple[str, ...] = ("sudo", "-E", "-u", "{account}"), rate: float = 1.0,
                 scratch: str | None = None, store: dict | None = None, scratch_quota_gb: float | None = None):
        self.name, self.python, self.rate = name, python or sys.executable, float(rate)
        self.account = unix_account(account) if account else None
        self.exec_prefix = exec_prefix
        if os.geteuid() == 0 and not self.account:
            raise SiteUnavailable(f"site {name}: jobs never run as root; give the site an account to run them as")
        self.scratch_setting, self.scratch_quota_gb = scratch, scratch_quota_gb
        self.store = StoreOptions(**(store or {}))
        self._scratch = None

    def scratch(self, default: Path) -> PosixScratch | S3Scratch:
        """Where this site's inputs are staged (``default``, a directory, unless the site names one)."""
        if self._scratch is None:
            where = self.scratch_setting
            if where and where.startswith("s3://"):
                self._scratch = S3Scratch(where, self.store)
            else:
                self._scratch = PosixScratch(Path(where) if where else default)
        return self._scratch

    def prefix(self) -> list[str]:
        if not self.account:
            return []
        return [self.account if part == "{account}" else part for part in self.exec_prefix]

    def prepare(self, workdir: Path, *, inputs: list[Path] = ()) -> None:
        """Make the job directory and its staged ``inputs`` (private: 0700 and 0600) the job's own, when this
        process is root and jobs run as an account."""
        workdir.mkdir(parents=True, exist_ok=True)
        os.close(os.open(workdir / "job.log", os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600))  # the job's log
        if self.account and os.geteuid() == 0:
            entry = pwd.getpwnam(self.account)
            staged = {*inputs, *(path.parent for path in inputs)}
            for path in (workdir, *workdir.rglob("*"), *sorted(staged)):
                os.chown(path, entry.pw_uid, entry.pw_gid, follow_symlinks=False)

    def job_env(self) -> dict[str, str]:
        """The job's environment: the account's own home and name, nothing of this process's."""
        account = self.account or pwd.getpwuid(os.getuid()).pw_name
        entry = pwd.getpwnam(account)
        return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": entry.pw_dir, "USER": account,
                "LOGNAME": account, "LANG": "C.UTF-8"}

    def command(self, workdir: Path) -> list[str]:
        return [self.python, "-m", EXECUTE, str(workdir)]

    @abstractmethod
    def submit(self, workdir: Path, request: ResourceRequest | None, *, project: str | None = None) -> str:
        """Start the job (charged to ``project`` where the site accounts); return the site's id for it."""

    @abstractmethod
    def states(self, ids: list[str]) -> dict[str, SiteState]:
        """Where each job stands, for all of them at once."""

    def timings(self, site_job_id: str, *, since: datetime) -> dict:
        """What the site's own records say of an ended job: ``queue_wait_s`` (seconds from submission to
        start) and ``ended`` (when it ended, UTC), where it keeps such records (Slurm); nothing here."""
        return {}

    @abstractmethod
    def cancel(self, site_job_id: str) -> None:
        """Stop the job (the runner records it as cancelled)."""


class LocalSite(Site):
    """Jobs as processes on this machine (papermill through the runner)."""

    kind = "local"

    def __init__(self, name: str = "local", **kwargs):
        super().__init__(name, **kwargs)
        self._started: dict[str, object] = {}  # pid -> Popen, reaped when polled
        self._ended: dict[str, int] = {}  # pid -> exit status of the jobs this site started and reaped

    def submit(self, workdir: Path, request: ResourceRequest | None, *, project: str | None = None) -> str:
        proc = start(self.prefix() + self.command(workdir), log_path=str(workdir / "job.log"), cwd=str(workdir),
                     env=self.job_env())
        self._started[str(proc.pid)] = proc
        return str(proc.pid)

    def states(self, ids: list[str]) -> dict[str, SiteState]:
        found = {}
        for pid in ids:
            proc = self._started.get(pid)
            if proc is not None and proc.poll() is not None:
                self._started.pop(pid, None)
                self._ended[pid] = proc.returncode
            # A process this site started is running until it is reaped (its Popen says so); /proc is asked
            # only of jobs re-attached after a restart, which this site did not start.
            if (proc is not None and pid in self._started) or (pid not in self._ended and _runs_job(pid)):
                found[pid] = SiteState("running", f"process {pid} on this machine")
                continue
            code = self._ended.get(pid)
            how = "" if code is None else (f"process {pid} was killed by signal {-code}" if code < 0
                                            else f"process {pid} exited with status {code}")
            found[pid] = SiteState("gone", how)
        return found

    def cancel(self, site_job_id: str) -> None:
        if _runs_job(site_job_id):
            try:
                os.killpg(int(site_job_id), signal.SIGTERM)
            except ProcessLookupError:
                pass


def _runs_job(pid: str) -> bool:
    """Whether ``pid`` is alive (not a zombie) and still one of our job runners (pids are reused)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z" and EXECUTE.encode() in cmdline


class SlurmJobSite(Site):
    """Jobs as Slurm batch jobs; ``environment`` is the virtual environment the job activates; ``ssh``:
    the login node when this process runs outside the cluster (:class:`.ssh.LoginNode` settings)."""

    kind = "slurm"

    def __init__(self, name: str = "slurm", *, environment: str, poll_interval: float = 2.0,
                 slurm: SlurmSite | None = None, ssh: dict | None = None, **kwargs):
        super().__init__(name, python=f"{environment}/bin/python", **kwargs)
        self.environment, self.poll_interval = environment, poll_interval
        # Over SSH the scheduler commands run on the login node as its user (the user's own cluster account).
        self.login = LoginNode.from_config(ssh, where=f"job sites.{name}.ssh", default_user=self.account) \
            if ssh is not None else None
        remote = tuple(self.login.argv()) if self.login else ()
        self.slurm = slurm or SlurmSite(exec_prefix=self.exec_prefix, remote=remote)
        self._snapshot: tuple[float, dict[str, scheduler.JobState]] = (0.0, {})
        self._lock = threading.Lock()

    def submit(self, workdir: Path, request: ResourceRequest | None, *, project: str | None = None) -> str:
        if request is None:
            raise SiteUnavailable(f"site {self.name}: a Slurm job needs a profile (resources)")
        script = render_batch_script(request, JobSpec(
            job_name=JOB_NAME, output_path=str(workdir / "job.log"), workdir=str(workdir),
            command=self.command(workdir), export_vars=["PATH", "HOME", "USER", "LANG"],
            environment=self.environment, account=project or ""))
        env = {**self.job_env(), "SLURM_EXPORT_ENV": "ALL"}
        return run_sync(self.slurm.submit(script, account=self.account, env=env))

    def _queue(self, *, after: float | None = None) -> dict[str, scheduler.JobState]:
        """One ``squeue`` per poll interval for every job of this site, however many ask (a snapshot taken
        no earlier than ``after``, a monotonic time, when given)."""
        with self._lock:
            taken, jobs = self._snapshot
            if time.monotonic() - taken >= self.poll_interval or (after is not None and taken < after):
                jobs = run_sync(self.slurm.queue(job_name=JOB_NAME))
                self._snapshot = (time.monotonic(), jobs)
            return jobs

    def states(self, ids: list[str]) -> dict[str, SiteState]:
        try:
            asked = time.monotonic()
            jobs = self._queue()
            if any(i not in jobs for i in ids):  # submitted after that snapshot, or ended: look again
                jobs = self._queue(after=asked)
        except SchedulerUnavailable as error:
            return {i: SiteState("unknown", f"Slurm is not answering ({error.message}); will ask again") for i in ids}
        found = {}
        for job_id in ids:
            line = jobs.get(job_id)
            if line is None:
                found[job_id] = SiteState("gone")
            elif line.pending:
                position = scheduler.queue_position(jobs, job_id)
                where = f", position {position} in the queue" if position else ""
                found[job_id] = SiteState("pending", f"pending in {line.partition} ({reason_text(line.reason)})"
                                                     f"{where}, estimated start {when(line.start)}")
            elif line.running:
                found[job_id] = SiteState("running", f"running on {line.nodes} for {line.elapsed}", line.nodes,
                                          line.start.to_datetime() if line.start is not None else None)
            else:  # squeue --states=all still lists it for a while: how Slurm ended it
                found[job_id] = SiteState("gone", f"Slurm ended it: {line.state}")
        return found

    def accounting(self, site_job_id: str, *, since: datetime) -> dict | None:
        """Slurm's accounting record of one job (sacct), or None when accounting does not know it."""
        from astropy.time import Time

        # slurmctld hands a job to slurmdbd a moment after it ends, and its fields in more than one message
        deadline = time.monotonic() + 20
        while True:
            found = run_sync(self.slurm.accounting(since=Time(since - timedelta(days=1)), job=site_job_id))
            record = next((j for j in found if j.job_id == site_job_id), None)
            ended = record is not None and record.state not in scheduler.PENDING_STATES | scheduler.RUNNING_STATES
            if (ended and record.partition and record.end is not None) or time.monotonic() > deadline:
                return record.to_json() if record else None
            time.sleep(1)

    def timings(self, site_job_id: str, *, since: datetime) -> dict:
        """From Slurm's accounting: the queue wait (start less submit) and the end, also for a job that
        started and ended between two polls."""
        try:
            record = self.accounting(site_job_id, since=since) or {}
        except SchedulerUnavailable:
            return {}
        found = {}
        if record.get("start") and record.get("submit"):
            start, submit = (datetime.fromisoformat(record[key]) for key in ("start", "submit"))
            found["queue_wait_s"] = max(0.0, (start - submit).total_seconds())
        if record.get("end"):
            found["ended"] = datetime.fromisoformat(record["end"])
        return found

    def cancel(self, site_job_id: str) -> None:
        run_sync(self.slurm.cancel(site_job_id, account=self.account))
        with self._lock:
            self._snapshot = (0.0, {})


SITE_KINDS = {"local": LocalSite, "slurm": SlurmJobSite}
_COMMON_KEYS = {"kind", "rate", "scratch", "store", "scratch_quota_gb"}
_SITE_KEYS = {"local": _COMMON_KEYS | {"python"}, "slurm": _COMMON_KEYS | {"environment", "poll_interval", "ssh"}}


def sites_from_config(config: object, *, account: str | None = None) -> dict[str, Site]:
    """Sites from ``{name: {"kind": "local" | "slurm", ...}}``, each problem named by its key."""
    if not isinstance(config, dict) or not config:
        raise InvalidRequest("job sites: expected an object of site name -> settings")
    sites = {}
    for name, settings in config.items():
        if not isinstance(name, str) or not PLAIN_NAME.match(name) or not isinstance(settings, dict):
            raise InvalidRequest(f"job sites: {str(name)[:32]!r} must be a plain name with an object of settings")
        kind = settings.get("kind")
        if kind not in SITE_KINDS:
            raise InvalidRequest(f"job sites.{name}.kind: must be one of {', '.join(SITE_KINDS)}")
        unknown = set(settings) - _SITE_KEYS[kind]
        if unknown:
            raise InvalidRequest(f"job sites.{name}: unknown setting {sorted(unknown)[0]!r}")
        rate = settings.get("rate", 1.0)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1e6:
            raise InvalidRequest(f"job sites.{name}.rate: service units per hour, a number from 0")
        _check_scratch(name, settings)
        if kind == "slurm" and not isinstance(settings.get("environment"), str):
            raise InvalidRequest(f"job sites.{name}.environment: the virtual environment jobs run in is required")
        options = {k: v for k, v in settings.items() if k != "kind"}
        sites[name] = SITE_KINDS[kind](name, account=account, **options)
    return sites


def _check_scratch(name: str, settings: dict) -> None:
    scratch, store, quota = settings.get("scratch"), settings.get("store"), settings.get("scratch_quota_gb")
    if scratch is not None:
        if not isinstance(scratch, str) or not (scratch.startswith("s3://") or os.path.isabs(scratch)):
            raise InvalidRequest(f"job sites.{name}.scratch: an absolute directory or s3://bucket/prefix")
        if scratch.startswith("s3://"):
            try:
                split_s3(scratch)
            except InvalidRequest as error:
                raise InvalidRequest(f"job sites.{name}.scratch: {error.message}") from None
    if store is not None:
        if not isinstance(store, dict) or set(store) - {"endpoint_url", "anon"}:
            raise InvalidRequest(f"job sites.{name}.store: an object with endpoint_url and anon")
        if not isinstance(store.get("endpoint_url", ""), str) or not isinstance(store.get("anon", False), bool):
            raise InvalidRequest(f"job sites.{name}.store: endpoint_url is a URL, anon true or false")
    if quota is not None and (isinstance(quota, bool) or not isinstance(quota, (int, float)) or not 0 < quota < 1e9):
        raise InvalidRequest(f"job sites.{name}.scratch_quota_gb: a positive number of GB")
