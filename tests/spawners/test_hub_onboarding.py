"""The demo hub out of the box: a new user who sets nothing up finds the sample datasets, the example notebooks
in their home (never overwriting an edit), and both job sites, and runs a job on each."""

from __future__ import annotations

import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests

from tests.hub import own_hub
from tests.services import REPO
from tests.spawners.test_hub_jobs import tiny_notebook

pytestmark = pytest.mark.timeout(600)
USER = "vlt-dave"
EXAMPLES = sorted(p.name for p in (REPO / "notebooks").glob("*.ipynb"))


@pytest.fixture
def shared(sample_data):
    """What `make job-env` puts in the job environment's share/jupyter-vlass, in a folder every account reads
    (the suite's own job environment is shared by other tests, and pytest's temporary folders are root's)."""
    folder = Path(tempfile.mkdtemp(prefix="vlass-share-"))
    (folder / "notebooks").mkdir()
    for name in EXAMPLES:
        shutil.copy(REPO / "notebooks" / name, folder / "notebooks" / name)
    root = sample_data["vlass"].parent
    for part in ("vlass", "packages", "tacc", "hips"):
        if (root / part).exists():
            shutil.copytree(root / part, folder / "sample" / part)
    subprocess.run(["chmod", "-R", "a+rX", str(folder)], check=True)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_a_new_user_finds_data_examples_and_both_job_sites(slurm, job_env, tmp_path, shared):
    home = Path(pwd.getpwnam(USER).pw_dir)
    for left in (home / ".local" / "share" / "jupyter-vlass", home / "vlass-examples"):  # a user new to the hub
        shutil.rmtree(left, ignore_errors=True)
    with own_hub(tmp_path / "hub", users=(USER,), VLASS_EXAMPLES=str(shared / "notebooks"),
                 VLASS_SAMPLE=str(shared / "sample"), JUPYTER_VLASS_JOBS_CONFIG="") as hub:
        hub.user(USER, allocation=1000.0)
        # The path: "Run on TACC: A100 x1", JupyterLab inside a Slurm job on the GPU partition.
        response = hub.spawn(USER, {"profile": "tacc-a100", "gpus": "1", "walltime": "1h"})
        assert response.status_code in (201, 202), response.text
        token = hub.token_for(USER)
        hub.wait_ready(USER)
        headers = {"Authorization": f"token {token}"}
        base = f"{hub.url}/user/{USER}/vlass/api"

        # The sample sources are registered and synced in the background of the server's start.
        deadline, found = time.monotonic() + 120, {}
        while time.monotonic() < deadline:
            found = requests.get(f"{base}/datasets", params={"region": "209.25,-18.0,0.5"}, headers=headers,
                                 timeout=60).json()
            if found.get("total"):
                break
            time.sleep(1)
        assert found["total"] > 0, found
        assert {s["name"] for s in found["sources"]} >= {"vlass", "cosmicai", "tacc"}, found["sources"]
        assert any(d["id"].startswith("vlass:VLASS2.2") for d in found["datasets"]), found["datasets"]

        # The three example notebooks, the user's own files in their home.
        folder = home / "vlass-examples"
        assert sorted(p.name for p in folder.glob("*.ipynb")) == EXAMPLES
        for name in EXAMPLES:
            assert (folder / name).read_bytes() == (REPO / "notebooks" / name).read_bytes()
            assert (folder / name).owner() == USER

        # Both job sites, and a job done on each.
        def until_ended(job_id, timeout=240):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                doc = requests.get(f"{base}/jobs/{job_id}", headers=headers, timeout=60).json()
                if doc["state"] in ("done", "failed", "cancelled"):
                    return doc
                time.sleep(1)
            raise AssertionError(f"job {job_id} did not end: {doc}")

        run = time.time_ns() // 1000
        for site, extra in (("local", {}), ("slurm", {"profile": "tacc-a100",
                                                      "resources": {"gpus": 1, "walltime": "30min"}})):
            manifest = {**tiny_notebook(USER), "site": site, **extra, "parameters": {"i": run}}
            submitted = requests.post(f"{base}/jobs", json=manifest, headers=headers, timeout=120)
            assert submitted.status_code in (200, 201), submitted.text
            job = until_ended(submitted.json()["id"])
            assert job["state"] == "done", job
            assert job["reason"].startswith(f"computed on the {site} site"), job

        # A later start: an edit is kept, a deleted example comes back, the sample is not registered again.
        edited, deleted = folder / EXAMPLES[0], folder / EXAMPLES[1]
        subprocess.run(["runuser", "-u", USER, "--", "sh", "-c", f"echo ' ' >> '{edited}'; rm '{deleted}'"],
                       check=True)
        mine = edited.read_bytes()
        hub.stop_server(USER)
        assert hub.spawn(USER, {"profile": "local"}).status_code in (201, 202)
        hub.wait_ready(USER)
        deadline = time.monotonic() + 60
        while not deleted.exists() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert deleted.read_bytes() == (REPO / "notebooks" / deleted.name).read_bytes()
        assert edited.read_bytes() == mine
        sources = requests.get(f"{base}/sources", headers=headers, timeout=60).json()["sources"]
        assert sorted(s["name"] for s in sources) == ["cosmicai", "tacc", "vlass"]  # registered once, not twice


def test_an_idle_server_is_stopped_after_the_timeout(slurm, job_env, tmp_path):
    name = "vlt-erin"
    with own_hub(tmp_path / "hub", users=(name,), VLASS_IDLE_TIMEOUT="20") as hub:
        assert "Starting managed service idle-culler" in (hub.workdir / "hub.log").read_text()
        hub.user(name)
        assert hub.spawn(name, {"profile": "local"}).status_code in (201, 202)
        hub.wait_ready(name)
        ready = time.monotonic()
        time.sleep(5)
        assert hub.server(name) is not None  # not before its 20 s
        while hub.server(name) is not None and time.monotonic() < ready + 90:
            time.sleep(1)
        assert hub.server(name) is None, "the idle server was not stopped within 90 s"
        assert time.monotonic() - ready >= 15


def test_no_culler_when_the_timeout_is_off(slurm, job_env, tmp_path):
    with own_hub(tmp_path / "hub", VLASS_IDLE_TIMEOUT="0") as hub:
        log = (hub.workdir / "hub.log").read_text()
        assert "Starting managed service vlass" in log and "idle-culler" not in log
