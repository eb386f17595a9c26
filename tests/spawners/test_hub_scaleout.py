"""The hub service scaled out, on the real hub: two service processes answer on its one port, sharing one
PostgreSQL (the hub's state and the registry). Whichever process answers, a user's quota is one bucket and a
browser's OAuth cookie holds; a killed process is replaced and nothing is lost; PostgreSQL restarted under
the running service, the service recovers."""

from __future__ import annotations

import os
import re
import signal
import time

import pytest
import requests

from tests.hub import own_hub
from tests.services import restart_postgres
from tests.spawners.test_hub_service import _login

pytestmark = pytest.mark.timeout(400)
REGION = "162.53,30.677,0.1"  # the real FIRST cutout of the sample manifest
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


def _kill_all(pids: set[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_two_service_processes_share_one_postgresql(slurm, job_env, tmp_path, postgres_url):
    with own_hub(tmp_path / "hub", JUPYTER_VLASS_HUB_DB=postgres_url, VLASS_REGISTRY_DB=postgres_url,
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
        for _ in range(4):
            page = browser.get(f"{hub.url}/services/vlass/approvals", timeout=30, allow_redirects=False,
                               headers={"Connection": "close"})
            assert page.status_code == 200 and "Compute requests" in page.text, (page.status_code, page.text[:300])

        # PostgreSQL restarted under the running service: it reconnects, and the state is all there.
        restart_postgres(postgres_url)
        after = hub.service("GET", "/api/approvals")
        assert after.status_code == 200, after.text
        again = requests.get(f"{hub.url}/services/vlass/api/datasets", params={"region": REGION}, timeout=60,
                             headers={"Authorization": f"token {hub.token_for('vlt-erin')}"})
        assert again.status_code == 200 and again.json()["datasets"], again.text
        assert search() == 429  # the spent quota survived the restart (held in the database)
    assert not _children(supervisor), "the service's processes outlived the hub"
