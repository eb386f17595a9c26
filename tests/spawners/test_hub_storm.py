"""Every test user asks for a GPU server at the same moment, through the hub's REST API, on the local Slurm
(two GPUs): each server runs or its user is told where it waits in the queue; none fails; once all are
stopped, no server job is left in Slurm. ``benchmarks/spawn.py --storm 50`` does the same with 50 users."""

from __future__ import annotations

import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.hub import TEST_USERS

pytestmark = pytest.mark.timeout(300)
OPTIONS = {"profile": "tacc-a100", "gpus": "1", "walltime": "1h", "memory": "2G"}


def _server_jobs() -> list[str]:
    out = subprocess.run(["squeue", "-h", "--name=jupyterhub-vlass", "-o", "%i %u %T"], capture_output=True,
                         text=True, check=True).stdout
    return [line for line in out.splitlines() if line.strip()]


def test_all_users_spawn_at_once_run_or_are_told_their_place(hub):
    users = [hub.user(name) for name in TEST_USERS]
    try:
        with ThreadPoolExecutor(max_workers=len(users)) as pool:
            responses = list(pool.map(lambda name: hub.spawn(name, OPTIONS), users))
            fates = list(pool.map(lambda pair: hub.fate(*pair), zip(users, responses)))
        assert fates.count("running") >= 1 and fates.count("queued") >= 1, fates
        assert fates.count("running") <= 2, fates  # two GPUs
    finally:
        for name in users:
            hub.api("DELETE", f"/users/{name}/server")
        for name in users:
            hub.wait_stopped(name, timeout=120)
    deadline = time.monotonic() + 60
    while _server_jobs() and time.monotonic() < deadline:
        time.sleep(1)
    assert _server_jobs() == []  # no zombie job
