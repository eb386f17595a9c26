"""The hub service scaled out, on the real hub: two service processes answer on its one port, sharing one
PostgreSQL (the hub's state and the registry). Whichever process answers, a user's quota is one bucket and a
browser's OAuth cookie holds; a killed process is replaced and nothing is lost; PostgreSQL restarted under
the running service, the service recovers; stopped across a job's end, the job is charged once when it answers."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import time
from pathlib import Path

import pytest
import requests

from tests.hub import own_hub
from tests.services import restart_postgres
from tests.spawners.test_hub_jobs import tiny_notebook
from tests.spawners.test_hub_service import _login

pytestmark = pytest.mark.timeout(400)
REGION = "162.53,30.677,0.1"  # the real FIRST cutout of the sample manifest
USER = "vlt-erin"  # whose job ends while the service is stopped (vlt-dave's quota is spent by then)
SERVED = re.compile(r"tornado\.access (\d+)\] (\d{3}) (?:GET|POST) /services/vlass/(\S*)")


def _served(hub) -> list[tuple[int, int, str]]:
    """(process id, status, path) of each request the service's processes logged."""
    text = (hub.workdir / "hub.log").read_text(errors="replace")
    return [(int(pid), int(status), path) for pid, status, path in SERVED.findall(text)]


def _children(parent: int) -> set[int]:
    found = set()
    for stat in os.scandir("/proc"):
        if stat.name.isdigit():
            try:
                fields = open(f"/proc/{stat.name}/stat").read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == parent:
                found.add(int(stat.name))
    return found


def _parent(pid: int) -> int:
    return int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])


def _alive(pids: set[int]) -> list[int]:
    """Those of ``pids`` still running (a zombie, ended but not yet reaped, is not)."""
    running = []
    for pid in pids:
        try:
            state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            running.append(pid)
    return running


def _service_processes(hub) -> set[int]:
    """The hub service's process and any it forked."""
    found = {pid for pid in _children(hub.process.pid)
             if b"jupyter_vlass.hubservice" in open(f"/proc/{pid}/cmdline", "rb").read()}
    return found | {child for pid in found for child in _children(pid)}


def _answering(hub, timeout: float = 30) -> None:
    """Until the service answers through the proxy again: the proxy's kept-alive connections to a killed
    process fail once (502/503) before it opens new ones."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if hub.service("GET", "/api/quotas/search").status_code not in (502, 503):
            return
        time.sleep(0.2)
    raise AssertionError("the service did not answer again")


def _kill_all(pids: set[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_two_service_processes_share_one_postgresql(slurm, job_env, tmp_path, postgres_url):
    """Then, on the same hub: a job that ends while the service is stopped is charged once."""
    shutil.rmtree(Path(pwd.getpwnam(USER).pw_dir) / ".local" / "share" / "jupyter-vlass", ignore_errors=True)
    with own_hub(tmp_path / "hub", users=(USER,), JUPYTER_VLASS_HUB_DB=postgres_url, VLASS_REGISTRY_DB=postgres_url,
                 VLASS_SERVICE_PROCESSES="2", VLASS_SEARCH_QUOTA="6/h") as hub:
        hub.user("vlt-dave", allocation=None)
        token = hub.token_for("vlt-dave")

        def search() -> int:
            return requests.get(f"{hub.url}/services/vlass/api/datasets", params={"region": REGION}, timeout=60,
                                headers={"Authorization": f"token {token}", "Connection": "close"}).status_code

        first = [search() for _ in range(3)]
        assert first == [200] * 3
        pids = {pid for pid, _, path in _served(hub) if path.startswith("api/datasets")}
        supervisor = _parent(next(iter(pids)))
        assert len(_children(supervisor)) == 2, "two service processes under one supervisor"
        # The processes that answered so far are killed outright: the next searches are answered by another.
        _kill_all(pids)
        deadline = time.monotonic() + 30
        while len(_children(supervisor) - pids) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(_children(supervisor) - pids) == 2, "the supervisor replaced the killed processes"
        _answering(hub)
        rest = [search() for _ in range(9)]
        # One bucket for the user whichever process answers: 6 of the 12, never more (fresh per-process
        # buckets would have allowed 6 more in the new processes).
        assert rest == [200] * 3 + [429] * 6, rest
        answered = {pid for pid, _, path in _served(hub) if path.startswith("api/datasets")}
        assert len(answered) >= 2 and answered - pids, answered

        # A browser's OAuth cookie set by one process is read by another.
        browser = _login(hub, "vlt-admin")
        _kill_all(_children(supervisor))
        deadline = time.monotonic() + 30
        while len(_children(supervisor)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        _answering(hub)
        for _ in range(4):
            page = browser.get(f"{hub.url}/services/vlass/approvals", timeout=30, allow_redirects=False,
                               headers={"Connection": "close"})
            assert page.status_code == 200 and "Compute requests" in page.text, (page.status_code, page.text[:300])

        # PostgreSQL restarted under the running service: it reconnects, and the state is all there.
        restart_postgres(postgres_url)
        _answering(hub)
        after = hub.service("GET", "/api/approvals")
        assert after.status_code == 200, after.text
        again = requests.get(f"{hub.url}/services/vlass/api/datasets", params={"region": REGION}, timeout=60,
                             headers={"Authorization": f"token {hub.token_for('vlt-erin')}"})
        assert again.status_code == 200 and again.json()["datasets"], again.text
        assert search() == 429  # the spent quota survived the restart (held in the database)
        check_a_job_that_ends_while_the_service_is_stopped_is_charged_once(hub)
    workers = {pid for pid, _, _ in _served(hub)} | {supervisor}
    deadline = time.monotonic() + 15  # a worker sees its supervisor gone within a second, then stops
    while _alive(workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(workers), "the service outlived the hub"


def check_a_job_that_ends_while_the_service_is_stopped_is_charged_once(hub, user: str = USER):
    """The service stopped (SIGSTOP: it holds its port and answers nothing) from just after a job was
    authorized until after it ended: the user's server says the hub service is unavailable, the job finishes,
    and once the service answers again its end is reported and charged exactly once."""
    hub.user(user, allocation=1000.0)
    assert hub.spawn(user, {"profile": "local"}).status_code in (201, 202)
    token = hub.token_for(user)
    hub.wait_ready(user)

    def call(method, path="", **kwargs):
        return requests.request(method, f"{hub.url}/user/{user}/vlass/api/{path}", timeout=120,
                                headers={"Authorization": f"token {token}"}, **kwargs)

    manifest = {**tiny_notebook(user), "parameters": {"i": time.time_ns() // 1000}}
    before = hub.service("GET", f"/api/allocations/{user}").json()["spent_su"]
    submitted = call("POST", "jobs", json=manifest)
    assert submitted.status_code in (200, 201), submitted.text
    job_id = submitted.json()["id"]
    stopped = _service_processes(hub)
    assert stopped
    for pid in stopped:
        os.kill(pid, signal.SIGSTOP)
    try:
        down = call("GET", "datasets", params={"region": REGION})
        assert down.status_code == 502 and "hub service unavailable" in down.json()["message"], down.text
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            job = call("GET", f"jobs/{job_id}").json()
            if job["state"] in ("done", "failed", "cancelled"):
                break
            time.sleep(1)
        assert job["state"] == "done" and not job["charged"], job
    finally:
        for pid in stopped:
            os.kill(pid, signal.SIGCONT)
    deadline = time.monotonic() + 90
    while not job["charged"] and time.monotonic() < deadline:
        time.sleep(2)
        job = call("GET", f"jobs/{job_id}").json()
    assert job["charged"] and job["su"] > 0, job
    spent = hub.service("GET", f"/api/allocations/{user}").json()["spent_su"]
    assert spent == pytest.approx(before + job["su"], abs=0.01)  # once, not twice
    reported = hub.service("GET", "/dashboard", params={"format": "json"}).json()["jobs"]
    assert reported == [{"site": "local", "state": "done", "count": 1}], reported
