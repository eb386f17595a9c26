"""The demo hub out of the box: a new user who sets nothing up finds the sample datasets, the example notebooks
in their home (never overwriting an edit), and both job sites, and runs a job on each."""

from __future__ import annotations

import json
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests

from tests.browser import shot
from tests.hub import own_hub
from tests.services import REPO
from tests.spawners.test_hub_jobs import tiny_notebook

pytestmark = pytest.mark.timeout(900)
USER = "vlt-dave"
EXAMPLES = sorted(p.name for p in (REPO / "notebooks").glob("*.ipynb"))
CONSENSUS_IN_KERNEL = """
import json, os
from astropy.table import Table
from jupyter_vlass.analysis import submit
from jupyter_vlass.exceptions import VlassError
from jupyter_vlass.federation import Region, Registry
from jupyter_vlass.models.consensus import Run, aggregate
from jupyter_vlass.review.review import review

root = os.path.expanduser("~/vlass-examples")
tile = next(h for h in Registry().search(Region.from_degrees(209.25, -18.0, 0.3)).hits
            if h.source == "vlass" and h.version == "v1")
runs, submitted = [], []
for model, site, profile, resources in (("classical", "local", None, None),
                                        ("cnn", "slurm", "tacc-a100", {"gpus": "1", "walltime": "1h", "memory": "4G"})):
    submitted.append((model, site, submit("detect-sources.ipynb", root=root, inputs=[tile], parameters={"model": model},
                                          site=site, profile=profile, resources=resources)))
for model, site, job in submitted:  # both run at once, as 03-consensus runs them
    status = job.wait(timeout=500).status()
    assert status["state"] == "done", status
    table = Table.read(job.result()["detections.ecsv"])
    runs.append(Run(model, table.meta["version"], site, table))
    print(model, "done", flush=True)
consensus = aggregate(runs, radius_deg=2.5 / 3600)
board = review()
recorded = board.record(dataset_id=tile.dataset_id, version=tile.version, consensus=consensus)
latest = board.latest(tile.dataset_id, tile.version)
os.environ.pop("JUPYTER_VLASS_PROJECT")
try:
    submit("detect-sources.ipynb", root=root, inputs=[tile], parameters={"model": "classical", "threshold": 6.5})
    refused = ""
except VlassError as error:
    refused = error.message
print(json.dumps({"runs": [r["run"] for r in latest["summary"]["runs"]], "created_by": latest["created_by"],
                  "here": len(consensus.table), "service": len(latest["detections"]), "refused": refused}))
"""


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


def test_a_new_user_finds_data_examples_and_both_job_sites(slurm, job_env, tmp_path, shared, page):
    home = Path(pwd.getpwnam(USER).pw_dir)
    for left in (home / ".local" / "share" / "jupyter-vlass", home / "vlass-examples"):  # a user new to the hub
        shutil.rmtree(left, ignore_errors=True)
    with own_hub(tmp_path / "hub", users=(USER,), VLASS_EXAMPLES=str(shared / "notebooks"),
                 VLASS_SAMPLE=str(shared / "sample"), JUPYTER_VLASS_JOBS_CONFIG="") as hub:
        hub.user(USER, allocation=1000.0)
        # The path, in Chromium: the hub's login page, the spawn form, "Run on TACC: A100 x1", JupyterLab
        # inside a Slurm job on the GPU partition.
        start_in_chromium(hub, page)
        token = hub.token_for(USER)
        server = hub.wait_ready(USER)
        assert server["state"]["child_state"]["job_id"] and server["user_options"]["profile"] == "tacc-a100", server
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
        search_in_chromium(page)

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

        run, submitted = time.time_ns() // 1000, {}
        notebook = tiny_notebook(USER)
        for site, extra in (("local", {}), ("slurm", {"profile": "tacc-a100",
                                                      "resources": {"gpus": 1, "walltime": "30min"}})):
            manifest = {**notebook, "site": site, **extra, "parameters": {"i": run + (site == "slurm")}}
            answer = requests.post(f"{base}/jobs", json=manifest, headers=headers, timeout=120)
            assert answer.status_code in (200, 201), answer.text
            submitted[site] = answer.json()["id"]
        for site, job_id in submitted.items():
            job = until_ended(job_id)
            assert job["state"] == "done", job
            assert job["reason"].startswith(f"computed on the {site} site"), job

        # 03's runs from the user's own kernel, through the Python API: each job authorized and recorded by the
        # hub service, their consensus computed there from the jobs' recorded outputs; with no project to
        # charge, no job runs at all.
        answer = json.loads(hub.run_in_kernel(USER, CONSENSUS_IN_KERNEL, token, timeout=600).strip().splitlines()[-1])
        assert answer["runs"] == ["classical@local", "cnn@slurm"] and answer["created_by"] == USER, answer
        assert answer["service"] == answer["here"] > 0, answer  # the service's consensus is the one of these runs
        assert "charges no project" in answer["refused"], answer

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
    with own_hub(tmp_path / "hub", users=(name,), VLASS_IDLE_TIMEOUT="10") as hub:
        assert "Starting managed service idle-culler" in (hub.workdir / "hub.log").read_text()
        hub.user(name)
        assert hub.spawn(name, {"profile": "local"}).status_code in (201, 202)
        hub.wait_ready(name)
        ready = time.monotonic()
        time.sleep(3)
        assert hub.server(name) is not None  # not before its 10 s
        while hub.server(name) is not None and time.monotonic() < ready + 60:
            time.sleep(0.5)
        assert hub.server(name) is None, "the idle server was not stopped within 60 s"
        assert time.monotonic() - ready >= 8



def start_in_chromium(hub, page) -> None:
    """The new user signs in at the hub's login page; the spawn form shows their allocation and, for the profile
    picked, its fields alone with their limits; they ask for one A100 and land in JupyterLab."""
    page.goto(f"{hub.url}/hub/login")
    page.fill("input[name=username]", USER)
    page.fill("input[name=password]", "vlass-demo")
    page.click("#login_submit")
    page.wait_for_load_state()
    page.goto(f"{hub.url}/hub/spawn")
    form = page.inner_text("form")
    balance = hub.service("GET", f"/api/allocations/{USER}").json()  # Slurm's accounting keeps earlier runs' use
    assert balance["granted_su"] == 1000.0, balance
    assert f"{balance['available_su']:.1f} SU left of 1000.0" in form, (form, balance)
    page.select_option("#vlass-profile", "tacc-a100")
    shown = [f.get_attribute("data-profile") for f in page.query_selector_all(".vlass-fields") if f.is_visible()]
    assert shown == ["tacc-a100"], shown
    assert "GPUs: 0 to" in page.inner_text("#tacc-a100-gpus-limit")
    page.fill("input[name='tacc-a100.gpus']", "1")
    page.fill("input[name='tacc-a100.walltime']", "1h")
    shot(page, "onboarding-1-spawn-form")
    page.click("form button[type=submit]")
    page.wait_for_url(f"{hub.url}/user/{USER}/lab*", timeout=180_000)
    page.locator(".jp-LabShell").wait_for(timeout=120_000)
    page.locator(".jp-Launcher").wait_for(timeout=60_000)  # a new user's JupyterLab opens on the launcher
    shot(page, "onboarding-2-lab")


def search_in_chromium(page) -> None:
    """In the VLASS datasets sidebar, a cone search finds the sample VLASS tile, the CosmicAI curation and the
    TACC object."""
    page.click(".jp-SideBar [data-id='jupyter-vlass-search']")
    for name, value in (("lon", "209.25"), ("lat", "-18.0"), ("radius", "0.5")):
        page.fill(f".jp-VlassSearch-{name}", value)
    page.click(".jp-VlassSearch-submit")
    page.wait_for_function("() => document.querySelector('.jp-VlassSearch').dataset.state === 'done'", timeout=60_000)
    found = page.locator(".jp-VlassSearch-hit").evaluate_all("nodes => nodes.map(n => n.dataset.datasetId)")
    assert {d.split(":")[0] for d in found} >= {"vlass", "cosmicai", "tacc"}, found
    shot(page, "onboarding-3-datasets")
