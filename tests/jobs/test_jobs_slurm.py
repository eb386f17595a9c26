"""Analysis jobs on the real local Slurm (fake A100s): submitted from the packaged template as the user's
account, watched through one squeue per interval, cancelled from outside; a result computed on Slurm
answers the same analysis asked of the local site."""

from __future__ import annotations

import subprocess
import time

import pytest

from jupyter_vlass.jobs.jobs import Jobs
from jupyter_vlass.compute.profiles import load_profiles
from jupyter_vlass.jobs.sites import LocalSite, SlurmJobSite
from tests.jobs.jobs_fixtures import manifest, slow_notebook
from tests.hub import JOB_ENV
from tests.services import REPO

pytestmark = pytest.mark.timeout(300)
FIRST = "tacc:first/J105007+304037.fits"
GPU = {"gpus": "1", "walltime": "1h", "memory": "2G"}


@pytest.fixture
def jobs(slurm, job_env, demo_registry, area, job_accounts):
    sites = {"slurm": SlurmJobSite(environment=str(JOB_ENV), account=job_accounts[0], poll_interval=1.0),
             "local": LocalSite(python=str(JOB_ENV / "bin" / "python"), account=job_accounts[0])}
    return Jobs(demo_registry, sites=sites, root=area, owner="alice", jobs_dir=area / "jobs",
                profiles=load_profiles(REPO / "hub_config" / "profiles.yaml"))


def _watch(job, timeout=180):
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = job.status()
        if not seen or seen[-1] != (status["state"], status["reason"]):
            seen.append((status["state"], status["reason"]))
        if status["state"] in ("done", "failed", "cancelled"):
            return status, seen
        time.sleep(0.5)
    raise AssertionError(f"still {seen[-1]} after {timeout} s")


def test_analysis_on_a_slurm_gpu_then_answered_from_its_copy_at_the_local_site(jobs, demo_registry, area):
    first = demo_registry.get(FIRST)
    doc = manifest(area, site="slurm", profile="tacc-a100", resources=GPU, inputs=[first],
                   parameters={"threshold": 4.0})
    job = jobs.submit(doc)
    assert jobs.submit(doc).id == job.id
    status, seen = _watch(job)
    assert status["state"] == "done", (seen, job.log())
    assert any(state == "running" and "running on" in reason for state, reason in seen), seen
    assert status["result"]["gpus"] in ("0", "1") and status["result"]["gpu_utilisation"] == "unavailable"
    assert f"job {status['site_job_id']} on" in job.log()
    assert status["reason"].startswith("computed on the slurm site")
    # what it asked for, as the Jobs panel shows it (GPUs, elapsed against the limit)
    assert status["walltime_s"] == 3600 and status["request"]["gpus"] == 1, status["request"]
    assert status["request"]["gpu_type"] == "a100" and status["request"]["partition"] == "gpu-a100", status["request"]
    run_hours = float(status["reason"].split(" in ")[1].split(" s")[0]) / 3600
    assert status["su"] == pytest.approx(run_hours * 4.0, rel=0.1)  # 1 node x gpu-a100's charge rate (4 SU)

    local = {k: v for k, v in doc.items() if k not in ("profile", "resources")} | {"site": "local"}
    hit = jobs.submit(local)
    assert hit.id != job.id and hit.status()["cached_from"] == "slurm"
    assert hit.status()["reason"] == "cached on the slurm site, not recomputed" and hit.status()["su"] == 0
    assert hit.result() == job.result()


def test_a_job_scancelled_outside_the_platform_is_seen_as_cancelled(jobs, area, job_accounts):
    job = jobs.submit(manifest(area, site="slurm", profile="tacc-a100", resources=GPU,
                               notebook=slow_notebook(area), parameters={"seconds": 120}))
    deadline = time.monotonic() + 90
    while job.state != "running" and time.monotonic() < deadline:
        time.sleep(0.5)
    while "ipykernel" not in _processes_of(job_accounts[0]) and time.monotonic() < deadline:
        time.sleep(0.5)
    subprocess.run(["scancel", job.status()["site_job_id"]], check=True)
    status, seen = _watch(job, timeout=60)
    assert status["state"] == "cancelled" and "scancel" in status["reason"], seen
    deadline = time.monotonic() + 30
    while _processes_of(job_accounts[0]) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _processes_of(job_accounts[0]) == ""


def test_hostile_resources_never_reach_sbatch(jobs, area, demo_registry):
    from jupyter_vlass.exceptions import InvalidManifest

    for resources, field in (({"gpus": "1; scancel -u root"}, "gpus"), ({"partition": "debug"}, "partition"),
                             ({"memory": "$(id)"}, "memory"), ({"walltime": "1h\n#SBATCH --uid=0"}, "walltime")):
        with pytest.raises(InvalidManifest) as refused:
            jobs.submit(manifest(area, site="slurm", profile="tacc-a100", resources=resources))
        assert field in refused.value.message
    assert not (area / "jobs").exists()


def _processes_of(account: str) -> str:
    return subprocess.run(["pgrep", "-a", "-u", account], capture_output=True, text=True).stdout


def test_a_job_outlives_a_slurmctld_restart_and_a_restarted_server(jobs, slurm, area, demo_registry, job_accounts):
    job = jobs.submit(manifest(area, site="slurm", profile="tacc-a100", resources=GPU,
                               notebook=slow_notebook(area), parameters={"seconds": 15}))
    deadline = time.monotonic() + 90
    while job.state != "running" and time.monotonic() < deadline:
        time.sleep(0.5)
    slurm.restart_controller()
    # The user's server restarted too: new sites and a new Jobs on the same store re-attach to the job.
    sites = {"slurm": SlurmJobSite(environment=str(JOB_ENV), account=job_accounts[0], poll_interval=1.0)}
    again = Jobs(demo_registry, sites=sites, root=area, owner="alice", jobs_dir=area / "jobs",
                 profiles=load_profiles(REPO / "hub_config" / "profiles.yaml"))
    status, seen = _watch(again.get(job.id))
    assert status["state"] == "done", (seen, again.log(job.id))
    assert all(state in ("running", "done") for state, _ in seen), seen


class RecordingAccounts:
    """The hub's side of authorizing and charging, as a fake that grants everything and records each report."""

    def __init__(self):
        self.reports, self.outputs = [], []

    def authorize(self, **_request) -> dict:
        return {"project": "alice"}

    def charge(self, *, site_kind: str, job_id: str, su: float, elapsed_s: float, state: str) -> dict:
        return {"charged": True, "final": True, "su": su}

    def report(self, **ended) -> None:
        self.reports.append(ended)

    def record_outputs(self, row, run_id: str, *, ran: bool) -> None:
        self.outputs.append((run_id, ran))

    def cached_result(self, key: str) -> None:  # the hub holds no other user's result
        return None

    def offer_result(self, key: str, run_id: str, location, files) -> dict:
        return {"key": key, "new": True}


def test_a_job_never_seen_running_reports_its_queue_wait_from_slurm(jobs, area):
    """A Slurm job that starts and ends between two polls: its queue wait comes from Slurm's accounting
    (start less submit), not from when the poller saw it running (it never did), and its status lag is how
    late its end was seen."""
    from datetime import datetime

    jobs.accounts = RecordingAccounts()
    job = jobs.submit(manifest(area, site="slurm", profile="tacc-cpu", notebook=slow_notebook(area),
                               parameters={"seconds": 1}))
    site_job_id = jobs.row(job.id).site_job_id
    deadline = time.monotonic() + 120  # the poller is not asked: wait for Slurm itself to be done with it
    while jobs.sites["slurm"].states([site_job_id])[site_job_id].state in ("pending", "running"):
        assert time.monotonic() < deadline
        time.sleep(0.5)
    assert jobs.row(job.id).started_at is None  # never seen running
    jobs.refresh()
    [report] = jobs.accounts.reports
    record = jobs.sites["slurm"].accounting(site_job_id, since=jobs.row(job.id).created_at)
    expected = (datetime.fromisoformat(record["start"]) - datetime.fromisoformat(record["submit"])).total_seconds()
    assert report["state"] == "done" and report["queue_wait_s"] == pytest.approx(max(0.0, expected)), report
    assert report["status_lag_s"] is not None and 0 <= report["status_lag_s"] < 120  # how late the end was seen
