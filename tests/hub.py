"""Real Slurm + JupyterHub for the spawner tests.

``slurm`` brings up the one-node cluster of ``hub_config/local_slurm.py`` (munged, MariaDB,
slurmdbd, slurmctld, slurmd, fake A100s); ``hub`` starts JupyterHub with configurable-http-proxy on
``hub_config/demo_config.py`` (plus a test service holding an admin token) and the hub service.
Jobs run as real unix users (``vlt-*``) from the world-readable environment ``/opt/vlass-jobenv``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
from contextlib import contextmanager
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests
from urllib3.util.retry import Retry
import websocket

from tests.services import REPO, free_port, require, stop_process_group

JOB_ENV = Path(os.environ.get("VLASS_JOB_ENV", "/opt/vlass-jobenv"))
TEST_USERS = ("vlt-alice", "vlt-bob", "vlt-carol", "vlt-dave", "vlt-erin", "vlt-frank", "vlt-grace")
ADMIN_TOKEN = "vlass-tests-" + uuid.uuid4().hex


def _local_slurm():
    spec = importlib.util.spec_from_file_location("local_slurm", REPO / "hub_config" / "local_slurm.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def slurm():
    """The local Slurm cluster: started if it is not running, and then stopped when the tests end
    (a cluster that was already up, such as the demo hub's, is left as it was)."""
    require(os.geteuid() == 0, "root (to start munged and the Slurm daemons)")
    require(all(shutil.which(b) for b in ("slurmctld", "slurmd", "slurmdbd", "munged", "mariadbd", "sudo")),
            "Slurm (slurmctld, slurmd, slurmdbd), munge, MariaDB and sudo")
    cluster = _local_slurm()
    was_up = cluster.running()
    cluster.up()
    for name in TEST_USERS:
        if subprocess.run(["id", name], capture_output=True).returncode != 0:
            subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", name], check=True)
    try:
        yield cluster
    finally:
        if not was_up:
            cluster.down()


@pytest.fixture(scope="session")
def job_env():
    if not (JOB_ENV / "bin" / "batchspawner-singleuser").exists():
        subprocess.run(["bash", str(REPO / ".ci" / "job-env.sh"), str(JOB_ENV)], check=True)
    return JOB_ENV


class Hub:
    """A running JupyterHub and a client for its REST API (as the tests' admin service)."""

    def __init__(self, workdir: Path, profiles: Path, *, start_timeout: int | None = 20,
                 config: Path = REPO / "hub_config" / "demo_config.py"):
        self.workdir, self.profiles, self.start_timeout, self.config = workdir, profiles, start_timeout, config
        self.port, self.api_port = free_port(), free_port()
        self.proxy_api_port, self.service_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.state = workdir / "state"  # the hub's own (demo_config makes it 0700); the profiles stay readable
        self.db_url = f"sqlite:///{self.state / 'vlass-hub.sqlite'}"
        self.process: subprocess.Popen | None = None
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"token {ADMIN_TOKEN}"
        # The proxy (Node) closes a kept-alive connection after 5 s idle; a request sent on it at that moment is
        # reset. An idempotent request is sent again on a new connection, as a browser does (never a POST).
        retry = Retry(total=3, connect=2, read=2, status=0, backoff_factor=0.2, allowed_methods=frozenset({"GET", "HEAD"}),
                      respect_retry_after_header=False, raise_on_status=False)
        self.session.mount("http://", requests.adapters.HTTPAdapter(max_retries=retry, pool_maxsize=32))

    def environment(self) -> dict:
        extra = self.workdir / "tests_config.py"
        extra.write_text(
            "c.JupyterHub.services.append({'name': 'tests', 'api_token': %r})\n"
            "c.JupyterHub.load_roles.append({'name': 'tests-admin', 'services': ['tests'], 'scopes': [\n"
            "  'admin:users', 'admin:servers', 'access:servers', 'tokens', 'admin:groups', 'list:users',\n"
            "  'read:users', 'admin:auth_state', 'custom:vlass-approvals:decide', 'custom:vlass-experts:vote',\n"
            "  'access:services']})\n"
            % ADMIN_TOKEN)
        if self.start_timeout is not None:  # a common hub setting; queued servers must outlive it
            with extra.open("a") as config:
                config.write(f"c.Spawner.start_timeout = {self.start_timeout}\n")
        return {**os.environ, "VLASS_HUB_DIR": str(self.state), "VLASS_HUB_PORT": str(self.port),
                "VLASS_HUB_API_PORT": str(self.api_port), "VLASS_PROXY_API_PORT": str(self.proxy_api_port),
                "VLASS_SERVICE_PORT": str(self.service_port), "VLASS_PROFILES": str(self.profiles),
                "JUPYTER_VLASS_HUB_DB": self.db_url, "VLASS_JOB_ENV": str(JOB_ENV),
                "VLASS_DEMO_USERS": ",".join(TEST_USERS), "VLASS_DEMO_ADMINS": "vlt-admin",
                "VLASS_DEMO_POWER_USERS": "", "VLASS_DEMO_EXPERTS": "",
                "VLASS_POLL_INTERVAL": "2", "VLASS_HUB_EXTRA_CONFIG": str(extra),
                "VLASS_APPROVAL_WAIT": "60"}

    def start(self, *, sigint_ignored: bool = False, **env) -> None:
        """Start the hub; ``sigint_ignored`` launches it as a background shell (nohup, cron, CI) would."""
        log = open(self.workdir / "hub.log", "ab")
        ignore = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if sigint_ignored else None
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(self.config)],
            cwd=self.workdir, env={**self.environment(), **env}, stdout=log, stderr=log, start_new_session=True,
            preexec_fn=ignore)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if self.session.get(self.url + "/hub/api/", timeout=5).ok and \
                        self.session.get(self.url + "/services/vlass/api/approvals", timeout=5).ok:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.3)
        self.stop()  # nothing left running behind a failed start
        raise RuntimeError(f"the hub did not come up; see {self.workdir / 'hub.log'}")

    def stop(self) -> None:
        stop_process_group(self.process, timeout=20)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    # ----- REST --------------------------------------------------------------------------------
    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.session.request(method, f"{self.url}/hub/api{path}", timeout=60, **kwargs)

    def service(self, method: str, path: str, *, token: str | None = None, **kwargs) -> requests.Response:
        headers = {**({"Authorization": f"token {token}"} if token else {}), **kwargs.pop("headers", {})}
        return self.session.request(method, f"{self.url}/services/vlass{path}", headers=headers, timeout=30,
                                    **kwargs)

    def user(self, name: str, *, groups: tuple[str, ...] = (), allocation: float | None = 1000.0) -> str:
        if self.api("GET", f"/users/{name}").status_code == 404:
            self.api("POST", f"/users/{name}").raise_for_status()
        for group in groups:
            if self.api("GET", f"/groups/{group}").status_code == 404:
                self.api("POST", f"/groups/{group}").raise_for_status()
            self.api("POST", f"/groups/{group}/users", json={"users": [name]}).raise_for_status()
        if allocation is not None:
            self.service("POST", f"/api/allocations/{name}", json={"granted_su": allocation}).raise_for_status()
        return name

    def token_for(self, name: str) -> str:
        response = self.api("POST", f"/users/{name}/tokens",
                            json={"scopes": [f"access:servers!user={name}", "access:services"], "expires_in": 3600})
        response.raise_for_status()
        return response.json()["token"]

    def login(self, name: str) -> requests.Session:
        """A browser's session of ``name``, logged in through the hub's login form (the demo's password)."""
        browser = requests.Session()
        page = browser.get(f"{self.url}/hub/login", timeout=30)
        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text).group(1)
        answer = browser.post(f"{self.url}/hub/login", data={"username": name, "password": "vlass-demo", "_xsrf": xsrf},
                              timeout=30, allow_redirects=False)
        assert answer.status_code == 302, answer.text
        return browser

    def server(self, name: str) -> dict | None:
        return self.api("GET", f"/users/{name}").json()["servers"].get("")

    def spawn(self, name: str, options: dict) -> requests.Response:
        return self.api("POST", f"/users/{name}/server", json=options)

    def wait_ready(self, name: str, timeout: float = 120) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            server = self.server(name)
            if server is None:
                raise AssertionError(f"{name}'s server stopped while starting; events: {self.events(name)}")
            if server["ready"]:
                return server
            time.sleep(0.3)
        raise AssertionError(f"{name}'s server was not ready within {timeout} s")

    def wait_stopped(self, name: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.server(name) is None:
                return
            time.sleep(0.5)
        raise AssertionError(f"{name}'s server was still listed after {timeout} s")

    def events(self, name: str, *, until: str | None = None, timeout: float = 30) -> list[dict]:
        """Progress events (server-sent events) of the pending spawn, read until ``until`` appears."""
        events: list[dict] = []
        try:
            with self.session.get(f"{self.url}/hub/api/users/{name}/server/progress", stream=True,
                                  timeout=timeout) as response:
                started = time.monotonic()
                for line in response.iter_lines(decode_unicode=True):
                    if line and line.startswith("data:"):
                        events.append(json.loads(line[5:]))
                        if until and until in events[-1].get("message", ""):
                            break
                    if time.monotonic() - started > timeout:
                        break
        except requests.RequestException:
            pass
        return events

    def fate(self, name: str, response: requests.Response, *, partition: str = "gpu-a100",
             timeout: float = 120) -> str:
        """``running`` or ``queued`` (told its place: a progress event "pending in <partition>") for a spawn
        the hub answered with ``response``; AssertionError for a failed one, with the hub's view of it."""
        assert response.status_code in (201, 202), (name, response.status_code, response.text)
        told = f"pending in {partition}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            model = self.server(name)
            assert model is not None, f"{name}'s spawn ended without a server"
            if model.get("ready"):
                return "running"
            assert model.get("pending") == "spawn", f"{name}: neither running nor starting: {model}"
            if any(told in e.get("message", "") for e in self.events(name, until=told, timeout=10)):
                return "queued"
        raise AssertionError(f"{name}: neither running nor told its queue state in {timeout:.0f} s")

    def stop_server(self, name: str) -> None:
        if self.server(name) is not None:
            self.api("DELETE", f"/users/{name}/server")
            self.wait_stopped(name)

    def run_in_kernel(self, name: str, code: str, token: str, *, timeout: float = 60) -> str:
        """Start a kernel on the user's server (through the proxy), run ``code``, return its stdout (``timeout``:
        the longest wait for the kernel's next message)."""
        base = f"{self.url}/user/{name}"
        headers = {"Authorization": f"token {token}"}
        kernel = requests.post(f"{base}/api/kernels", headers=headers, json={"name": "python3"}, timeout=60)
        kernel.raise_for_status()
        kernel_id = kernel.json()["id"]
        ws = websocket.create_connection(f"ws://127.0.0.1:{self.port}/user/{name}/api/kernels/{kernel_id}/channels",
                                         header=[f"Authorization: token {token}"], timeout=timeout)
        try:
            msg_id = uuid.uuid4().hex
            ws.send(json.dumps({"channel": "shell", "header": {
                "msg_id": msg_id, "msg_type": "execute_request", "username": name, "session": uuid.uuid4().hex,
                "version": "5.3"}, "parent_header": {}, "metadata": {},
                "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                            "allow_stdin": False}}))
            out = []
            while True:
                message = json.loads(ws.recv())
                if message.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                if message["msg_type"] == "stream":
                    out.append(message["content"]["text"])
                elif message["msg_type"] == "error":
                    raise AssertionError("\n".join(message["content"]["traceback"]))
                elif message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
                    return "".join(out)
        finally:
            ws.close()
            requests.delete(f"{base}/api/kernels/{kernel_id}", headers=headers, timeout=30)


@contextmanager
def own_hub(workdir: Path, *, users: tuple[str, ...] = (), **env):
    """A hub of its own in ``workdir`` (the shipped profiles), stopped with the servers of ``users``."""
    require(shutil.which("configurable-http-proxy") is not None, "configurable-http-proxy (npm)")
    workdir.mkdir(parents=True, exist_ok=True)
    os.chmod(workdir, 0o755)
    profiles = workdir / "profiles.yaml"
    shutil.copy(REPO / "hub_config" / "profiles.yaml", profiles)
    instance = Hub(workdir, profiles)
    instance.start(**env)
    try:
        yield instance
    finally:
        # Whatever failed: the users' servers stopped through the hub, then any Slurm job of theirs the hub left
        # (a server on the cluster outlives a stopped hub, and would hold its GPUs for the tests after).
        for name in users:
            try:
                instance.stop_server(name)
            except (AssertionError, requests.RequestException):
                pass
        instance.stop()
        cancel_slurm_jobs(users)


def cancel_slurm_jobs(users: tuple[str, ...]) -> None:
    """scancel every job of ``users`` still queued or running (none when Slurm is not installed)."""
    if users and shutil.which("scancel"):
        for name in users:
            subprocess.run(["scancel", "--user", name], capture_output=True, timeout=30)


@pytest.fixture(scope="session")
def hub(slurm, job_env, tmp_path_factory):
    with own_hub(tmp_path_factory.mktemp("hub"), users=TEST_USERS) as instance:
        yield instance


def squeue_jobs(user: str) -> list[str]:
    done = subprocess.run(["squeue", "--noheader", "--user", user, "--format=%i|%T"], capture_output=True,
                          text=True, check=True)
    return [line for line in done.stdout.splitlines() if line.strip()]


def sacct_state(user: str, job: str, timeout: float = 20.0) -> str:
    """The job's final state in accounting; slurmctld sends it to slurmdbd a moment after the job ends."""
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        for line in sacct_jobs(user):
            job_id, _, found = line.partition("|")
            if job_id == job:
                state = found.split(" by ")[0]
        if state and state not in ("PENDING", "RUNNING", "REQUEUED", "SUSPENDED"):
            return state
        time.sleep(0.5)
    return state


def sacct_jobs(user: str) -> list[str]:
    done = subprocess.run(["sacct", "--noheader", "--parsable2", "--user", user, "--allocations",
                           "--starttime=2020-01-01", "--format=JobIDRaw,State"], capture_output=True, text=True,
                          check=True)
    return [line for line in done.stdout.splitlines() if line.strip()]
