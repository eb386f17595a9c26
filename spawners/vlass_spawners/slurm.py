"""VlassSlurmSpawner: batchspawner's SlurmSpawner made safe and queue-aware.

- The spawn request is parsed into a typed :class:`ResourceRequest` against the admin's profile;
  unknown keys and hostile values are refused (HTTP 400) before anything runs.
- The batch script comes from the packaged Jinja2 template (``jupyter_vlass.compute.batch``);
  no key of ``user_options`` reaches it, and every scheduler call is an argv list (no shell).
- Allocation (ledger) and approval checks run before submission.
- Progress says where the job is: submitted, pending with Slurm's reason, queue position and
  estimated start, faster profiles, running on node X with GPUs Y.
- One shared poller runs ``squeue`` for all servers; a job that ends outside the hub is seen as
  stopped; queue and start-up timeouts cancel the job and say why.
"""

from __future__ import annotations

import asyncio
import pwd
import time
from html import escape
from urllib.parse import quote
from collections.abc import Mapping

from astropy.time import Time, TimeDelta
from batchspawner import JobStatus, SlurmSpawner
from tornado import web
from traitlets import Dict, Float, List, Unicode, default, observe

from jupyter_vlass.compute.batch import JobSpec, render_batch_script
from jupyter_vlass.compute.messages import reason_text, when
from jupyter_vlass.compute.resources import ResourceRequest, request_from_options
from jupyter_vlass.compute.scheduler import queue_position
from jupyter_vlass.compute.slurm import SlurmSite, unix_account
from jupyter_vlass.exceptions import AwaitingApproval, SchedulerUnavailable, VlassError
from jupyter_vlass.web_errors import error_response

from .api import port_report_installed
from .hubstore import HubStore
from .poller import shared_poller

SERVER_COMMAND = ["jupyterhub-singleuser"]  # started through jupyter_vlass.compute.report_port


def http_error(error: VlassError) -> web.HTTPError:
    """What the user sees (status + message) for a typed domain error, through the project's one error map."""
    status, body = error_response(error)
    return web.HTTPError(status, body["message"], reason=body["reason"])


class VlassSlurmSpawner(SlurmSpawner):
    profile_name = Unicode(help="The profile (in profiles_file) this server was requested with.").tag(config=True)
    profiles_file = Unicode(help="The admins' profiles YAML.").tag(config=True)
    db_url = Unicode("", help="Hub database for the ledger and approvals (SQLite file or PostgreSQL URL).").tag(
        config=True)
    job_environment = Unicode("", help="Virtual environment activated in the job (must be readable by users).").tag(
        config=True)
    job_name = Unicode("jupyterhub-vlass", help="Slurm job name of every server job.").tag(config=True)
    logs_folder = Unicode("vlass-server-logs", help="Folder of the user's home each server job's log goes to "
                                                    "(`<job_name>-<job id>.log`).").tag(config=True)
    logs_keep_days = Float(14.0, help="Server logs older than this are removed at the next start.").tag(config=True)
    exec_prefix_argv = List(Unicode(), ["sudo", "-E", "-u", "{account}"],
                            help="argv prefix that runs scheduler commands as the user; {account} is replaced.").tag(
        config=True)
    unix_accounts = Dict({}, help="Hub user name -> unix account (default: the same name).").tag(config=True)
    projects = Dict({}, help="Hub user name -> allocation project (default: default_project).").tag(config=True)
    default_project = Unicode("{account}", help="Project of users not in `projects`; {account} is replaced.").tag(
        config=True)
    scheduler_poll_interval = Float(2.0, help="Seconds between the shared squeue calls.").tag(config=True)
    queue_timeout = Float(3600.0, help="Longest wait in the queue before the job is cancelled.").tag(config=True)
    startup_timeout = Float(180.0, help="Longest wait from 'running' to the server reporting its port.").tag(
        config=True)
    approval_wait = Float(300.0, help="How long a start waits for an admin's decision before giving up.").tag(
        config=True)

    @default("start_timeout")
    def _start_timeout(self):
        return self.start_budget()

    def start_budget(self) -> int:
        """JupyterHub's start_timeout must cover the queue, or the hub kills queued servers at 60 s."""
        return int(self.queue_timeout + self.startup_timeout + self.approval_wait + 60)

    # ----- identity -------------------------------------------------------------------------------
    @property
    def account(self) -> str:
        return unix_account(self.unix_accounts.get(self.user.name, self.user.name))

    @property
    def project(self) -> str:
        return self.projects.get(self.user.name) or self.default_project.replace("{account}", self.account)

    def user_env(self, env):
        entry = pwd.getpwnam(self.account)
        env.update(USER=self.account, HOME=entry.pw_dir, SHELL=entry.pw_shell or "/bin/bash")
        return env

    @property
    def logs_path(self) -> str:
        """The folder of this user's server logs (the admin's ``logs_folder`` under their home)."""
        return f"{pwd.getpwnam(self.account).pw_dir}/{self.logs_folder.strip('/')}"

    def log_link(self) -> str:
        """Where the user opens this start's log in their JupyterLab (once the server runs)."""
        relative = self.log_path.removeprefix(pwd.getpwnam(self.account).pw_dir).lstrip("/")
        return f"{self.user.url}lab/tree/{quote(relative)}"

    @property
    def site(self) -> SlurmSite:
        return SlurmSite(exec_prefix=tuple(self.exec_prefix_argv))

    @property
    def poller(self):
        return shared_poller(self.user.settings, exec_prefix=tuple(self.exec_prefix_argv),
                             interval=self.scheduler_poll_interval, job_name=self.job_name)

    @property
    def store(self) -> HubStore:
        return HubStore.for_url(self.db_url)

    # ----- state ---------------------------------------------------------------------------------
    log_path = Unicode("")
    node = Unicode("")
    gpus = Unicode("")

    def load_state(self, state):
        super().load_state(state)
        self.log_path = state.get("log_path", "")
        self.node = state.get("node", "")
        self.gpus = state.get("gpus", "")

    def get_state(self):
        state = super().get_state()
        state.update({k: v for k, v in (("log_path", self.log_path), ("node", self.node), ("gpus", self.gpus)) if v})
        return state

    def clear_state(self):
        super().clear_state()
        self.log_path = self.node = self.gpus = ""

    @observe("port")
    def _port_reported(self, change):
        if change["new"]:
            self._port_event().set()

    def _port_event(self) -> asyncio.Event:
        if getattr(self, "_port_set", None) is None:
            self._port_set = asyncio.Event()
        return self._port_set

    async def _pause(self) -> None:
        """Sleep one start-up poll interval, waking early when the job reports its port."""
        try:
            await asyncio.wait_for(self._port_event().wait(), self.startup_poll_interval)
        except asyncio.TimeoutError:
            pass

    # ----- progress ------------------------------------------------------------------------------
    def _event(self, message: str, progress: int, *, html: str | None = None) -> None:
        """A progress event; ``html``: the same with links (JupyterHub's progress page shows it instead)."""
        self.log.info("[%s] %s", self.user.name, message)
        self._events.append({"progress": progress, "message": message, **({"html_message": html} if html else {})})

    async def progress(self):
        seen = 0
        while True:
            events = getattr(self, "_events", [])
            while seen < len(events):
                yield events[seen]
                seen += 1
            if getattr(self, "_start_done", True) and seen >= len(events):
                return
            await asyncio.sleep(0.5)

    # ----- start ---------------------------------------------------------------------------------
    def resource_request(self) -> tuple[str, ResourceRequest]:
        """The profile and the typed request for this spawn; raises HTTP 400 naming the bad field."""
        options = dict(self.user_options or {})
        options.pop("profile", None)
        profiles = self.store.profiles(self.profiles_file)
        try:
            profile = profiles.get(self.profile_name, groups=[g.name for g in self.user.groups])
            if profile.policy is None:
                raise VlassError(f"profile {profile.name!r} is not a Slurm profile")
            return profile.name, request_from_options(profile.policy, options)
        except VlassError as error:
            raise http_error(error) from None

    def job_spec(self, env: Mapping[str, str], command: list[str] | None = None) -> JobSpec:
        home = pwd.getpwnam(self.account).pw_dir
        return JobSpec(job_name=self.job_name, output_path=f"{self.logs_path}/{self.job_name}-%j.log", workdir=home,
                       command=command or SERVER_COMMAND + self.get_args(), export_vars=sorted(env),
                       environment=self.job_environment, account=self.project, report_port=command is None)

    async def start(self):
        self._events, self._start_done = [], False
        try:
            return await self._start()
        finally:
            self._start_done = True

    async def _start(self):
        if not port_report_installed():
            raise web.HTTPError(500, "this hub routes /api/batchspawner to batchspawner's handler, which lets a job set "
                                     "any spawner attribute: call vlass_spawners.api.install_port_report() in "
                                     "jupyterhub_config.py")
        self.port = 0
        self._port_event().clear()
        profile, request = self.resource_request()
        store = self.store
        try:
            await store.sync_ledger(self.profiles_file, self.site, wait=False)
            balance = store.ledger(self.profiles_file).check(self.project, request, store.rate(self.profiles_file, request.partition))
            self._event(f"Allocation: {balance}.", 5)
            approval = await self._approval(profile, request)
            env = self.get_env()
            spec = self.job_spec(env)
            script = render_batch_script(request, spec)
            await self.site.prepare_logs(self.logs_path, account=self.account, name=self.job_name,
                                         keep_days=int(self.logs_keep_days))
            # sbatch refuses an impossible request itself (no job is created), with Slurm's reason.
            self.job_id = await self.site.submit(script, account=self.account, env=env)
        except VlassError as error:
            raise http_error(error) from None
        if approval is not None:
            store.approvals(self.profiles_file).mark_used(approval.id)
        self.log_path = spec.output_path.replace("%j", self.job_id)
        self._event(f"Submitted job {self.job_id} ({request.describe()}); output: {self.log_path}", 10,
                    html=f"Submitted job {escape(self.job_id)} ({escape(request.describe())}); "
                         f"output: <a href=\"{escape(self.log_link())}\">{escape(self.log_path)}</a>")
        await self._wait_running(request)
        await self._wait_port()
        await self._wait_listening()
        self.db.commit()
        self._event(f"Server listening on {self.node}:{self.port} (job {self.job_id}); connecting.", 95)
        return self.ip, self.port

    async def _approval(self, profile: str, request: ResourceRequest):
        approvals = self.store.approvals(self.profiles_file)
        deadline = time.monotonic() + self.approval_wait
        while True:
            try:
                return approvals.gate(user=self.user.name, project=self.project, profile=profile, request=request)
            except AwaitingApproval as waiting:
                if not self._events or "awaiting" not in self._events[-1]["message"]:
                    self._event(waiting.message + " You can leave this page; the decision will be shown here "
                                "and on the start page.", 5)
                if time.monotonic() > deadline:
                    raise AwaitingApproval(waiting.message + " Start again once it is approved.") from None
            await asyncio.sleep(2)

    async def _wait_running(self, request: ResourceRequest) -> None:
        submitted = time.monotonic()
        last_message, offered, estimate, job = "", False, None, None
        while True:
            # Poll fast (shared by all spawners) only while the scheduler has not looked at the job yet or
            # the job has already reported its port; a job queued for a reason waits for the shared interval.
            eager = job is None or job.reason == "None" or self.port != 0
            after = max(submitted, time.monotonic() - self.startup_poll_interval) if eager else None
            job, snapshot = await self.poller.state(self.job_id, after=after)
            start = None
            if snapshot.error:
                message = f"Slurm is not answering ({snapshot.error}); job {self.job_id} is kept, still waiting."
            elif job is None or not (job.pending or job.running):
                await self._give_up(f"Job {self.job_id} ended ({job.state if job else 'gone from the queue'}) "
                                    f"before the server started; see {self.log_path}.")
            elif job.running:
                self.node = job.nodes
                self.gpus = ",".join(map(str, await self.site.gpu_indices(self.job_id))) if request.gpus else ""
                self.ip = self.node
                self._event(f"Running on node {self.node}" + (f" with GPU(s) {self.gpus}" if self.gpus else "")
                            + f"; waiting for the server to start (log: {self.log_path}).", 60)
                return
            else:
                position = queue_position(snapshot.jobs, job.job_id)
                if job.start is None and estimate is None and job.reason != "None":
                    estimate = await self.estimate(request)
                start = job.start or estimate
                message = (f"Job {self.job_id} pending in {job.partition} ({reason_text(job.reason)}); "
                           f"position {position} in the queue; estimated start {when(start)}.")
            if message != last_message:
                self._event(message, 20)
                last_message = message
            if not snapshot.error and job.pending and not offered and start is not None \
                    and (start - Time.now()).to_value("s") > 60:
                offered = True
                faster = await self.faster_profiles(request, start)
                if faster:
                    self._event("These profiles would start sooner: " + "; ".join(faster)
                                + ". Stop this server and pick one to switch.", 30)
            if time.monotonic() - submitted > self.queue_timeout:
                await self._give_up(f"Job {self.job_id} waited {self.queue_timeout:.0f} s in the queue "
                                    f"({last_message}); it was cancelled. Try a profile that starts sooner.")
            await self._pause()

    async def _wait_port(self) -> None:
        running_since = time.monotonic()
        while self.port == 0:
            if time.monotonic() - running_since > self.startup_timeout:
                await self._give_up(f"Job {self.job_id} runs on {self.node} but its server did not start within "
                                    f"{self.startup_timeout:.0f} s; see {self.log_path}.")
            job, snapshot = await self.poller.state(self.job_id)
            if not snapshot.error and (job is None or not job.running):
                await self._give_up(f"Job {self.job_id} ended ({job.state if job else 'gone'}) while the server "
                                    f"was starting; see {self.log_path}.")
            await self._pause()

    async def _wait_listening(self) -> None:
        """Return once the server accepts connections, so the hub's own check passes at its first try
        (its exponential back-off otherwise adds up to seconds after a server is already up)."""
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            try:
                _, writer = await asyncio.wait_for(asyncio.open_connection(self.ip, self.port), 1.0)
                writer.close()
                return
            except (OSError, asyncio.TimeoutError):
                job, snapshot = await self.poller.state(self.job_id)
                if not snapshot.error and (job is None or not job.running):
                    await self._give_up(f"Job {self.job_id} ended ({job.state if job else 'gone'}) while the "
                                        f"server was starting; see {self.log_path}.")
                await asyncio.sleep(0.1)
        await self._give_up(f"The server of job {self.job_id} on {self.node} did not listen on port {self.port} "
                            f"within {self.startup_timeout:.0f} s; see {self.log_path}.")

    async def _give_up(self, message: str) -> None:
        self._event(message, 100)
        if self.job_id:
            try:
                await self.site.cancel(self.job_id, account=self.account)
            except SchedulerUnavailable:
                self.log.warning("could not cancel job %s", self.job_id)
            self.poller.unwatch(self.job_id)
        raise web.HTTPError(500, message, reason="spawn_failed")

    async def faster_profiles(self, request: ResourceRequest, start: Time) -> list[str]:
        """Other profiles of this user that Slurm estimates would start sooner (``sbatch --test-only``)."""
        profiles = self.store.profiles(self.profiles_file)
        groups = [g.name for g in self.user.groups]
        candidates = [p for p in profiles.visible_to(groups) if p.policy and p.name != self.profile_name]
        estimates = await asyncio.gather(*(self.estimate(p.policy.defaults) for p in candidates))
        return [f"{p.display_name} ({when(t)})" for p, t in zip(candidates, estimates)
                if t is not None and t < start - TimeDelta(60, format="sec")]

    async def estimate(self, request: ResourceRequest) -> Time | None:
        env = self.get_env()
        script = render_batch_script(request, self.job_spec(env, command=["true"]))
        try:
            return (await self.site.estimate_start(script, account=self.account, env=env)).start
        except VlassError:
            return None

    # ----- poll / stop ---------------------------------------------------------------------------
    async def query_job_status(self):
        if not self.job_id:
            self.job_status = ""
            return JobStatus.NOTFOUND
        job, snapshot = await self.poller.state(self.job_id)
        if snapshot.error:
            return JobStatus.UNKNOWN
        if job is None or not (job.pending or job.running):
            self.job_status = job.state if job else ""
            self.poller.unwatch(self.job_id)
            return JobStatus.NOTFOUND
        self.job_status = f"{job.state} {job.nodes}"
        return JobStatus.RUNNING if job.running else JobStatus.PENDING

    async def cancel_batch_job(self):
        if self.job_id:
            try:
                await self.site.cancel(self.job_id, account=self.account)
            except SchedulerUnavailable as error:
                self.log.warning("cancelling job %s: %s", self.job_id, error.message)

    async def stop(self, now=False):
        await self.cancel_batch_job()
        if now or not self.job_id:
            return
        for _ in range(20):
            job, snapshot = await self.poller.state(self.job_id, after=time.monotonic())
            if not snapshot.error and (job is None or not (job.pending or job.running)):
                self.poller.unwatch(self.job_id)
                return
            await asyncio.sleep(0.5)
        self.log.warning("job %s did not end within 10 s of scancel", self.job_id)

    async def submit_batch_script(self):  # batchspawner's shell path: never used
        raise NotImplementedError("VlassSlurmSpawner submits through jupyter_vlass.compute.slurm")

    async def run_command(self, cmd, input=None, env=None):  # never run a shell string
        raise NotImplementedError("VlassSlurmSpawner runs argv lists only")
