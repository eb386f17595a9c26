"""Analysis jobs on the local site: the real analysis notebook through papermill on real sample data, run
as a unix account (never root); one job per manifest; the result cache answers the next user at once."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import time
from pathlib import Path

import pytest
from astropy.table import Table
from sqlalchemy import func, select

from jupyter_vlass.jobs.jobs import Jobs
from jupyter_vlass.jobs.sites import LocalSite
from jupyter_vlass.exceptions import InvalidManifest, SiteUnavailable, UnknownJob
from jupyter_vlass.store import JobRow
from tests.jobs.jobs_fixtures import manifest, sha256, slow_notebook
from tests.hub import JOB_ENV

pytestmark = pytest.mark.timeout(300)
FIRST = "tacc:first/J105007+304037.fits"  # the real VLA FIRST cutout of the sample manifest


def jobs_for(registry, area, owner, account):
    site = LocalSite(python=str(JOB_ENV / "bin" / "python"), account=account)
    return Jobs(registry, sites={"local": site}, root=area, owner=owner, jobs_dir=area / "jobs")


def test_jobs_never_run_as_root():
    assert os.geteuid() == 0  # the suite runs as root; a site must be told whom to run jobs as
    with pytest.raises(SiteUnavailable, match="never run as root"):
        LocalSite()


def test_analysis_runs_once_and_the_next_user_gets_the_cached_result(demo_registry, area, job_env, job_accounts):
    first = demo_registry.get(FIRST)
    alice = jobs_for(demo_registry, area, "alice", job_accounts[0])
    doc = manifest(area, inputs=[first], parameters={"threshold": 4.0}, output={"path": "results/first"})
    job = alice.submit(doc)
    assert alice.submit(doc).id == job.id  # the same manifest is one job
    status = job.wait(timeout=180).status()
    assert status["state"] == "done", (status, job.log())
    assert status["cached_from"] is None and status["reason"].startswith("computed on the local site")
    assert 0 < status["su"] < 180 / 3600  # hours at the local site's rate (1 SU per hour)
    files = job.result()
    assert {"catalogue.ecsv", "summary.json"} <= set(files)
    catalogue = Table.read(files["catalogue.ecsv"])
    assert len(catalogue) >= 1 and set(catalogue["dataset"]) == {FIRST}
    assert (area / "results" / "first" / "catalogue.ecsv").read_bytes() == files["catalogue.ecsv"].read_bytes()
    ran_as = subprocess.run(["stat", "-c", "%U", str(files["catalogue.ecsv"])], capture_output=True, text=True)
    assert ran_as.stdout.strip() == job_accounts[0]

    bob = jobs_for(demo_registry, area, "bob", job_accounts[1])
    started = time.perf_counter()
    hit = bob.submit(doc)
    took = time.perf_counter() - started
    hit_status = hit.status()
    assert hit_status["state"] == "done" and hit_status["cached_from"] == "local", hit_status
    assert hit_status["reason"] == "cached on the local site, not recomputed" and hit_status["site_job_id"] is None
    assert hit_status["su"] == 0  # a cache hit burns no allocation
    assert hit.result()["catalogue.ecsv"] == files["catalogue.ecsv"]
    assert alice.cache.stats()["hits"] == 1 and alice.cache.stats()["computed"] == 1
    print(f"cache hit answered in {took * 1000:.0f} ms")

    # Each user sees only their own jobs.
    assert [j.id for j in bob.list()] == [hit.id] and hit.id != job.id
    with pytest.raises(UnknownJob):
        bob.get(job.id)
    with pytest.raises(UnknownJob):
        bob.cancel(job.id)

    # A cached copy whose bytes changed is evicted and the result computed again.
    target = files["summary.json"]
    target.chmod(0o644)
    target.write_text(target.read_text() + " ")
    carol = jobs_for(demo_registry, area, "carol", job_accounts[1])
    again = carol.submit(doc)
    assert again.status()["cached_from"] is None
    assert again.wait(timeout=180).status()["state"] == "done"

    # Rewritten in place, its size and modification time restored (what the job's account can do to its own
    # files): the change time gives it away, the copy is evicted and the result computed again.
    target = again.result()["summary.json"]
    before, text = target.stat(), target.read_text()
    target.chmod(0o644)
    target.write_text(text.replace("1", "7", 1) if "1" in text else text[:-1] + "!")
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (target.stat().st_size, target.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    assert target.read_text() != text
    dave = jobs_for(demo_registry, area, "dave", job_accounts[1])
    recomputed = dave.submit(doc)
    assert recomputed.status()["cached_from"] is None, recomputed.status()
    assert recomputed.wait(timeout=180).status()["state"] == "done"
    assert recomputed.result()["summary.json"].read_text() == text  # the analysis's own bytes again


@pytest.mark.parametrize("change, message", [
    (lambda d: d.pop("notebook"), "manifest $: 'notebook' is a required property"),
    (lambda d: d["inputs"].append({"id": FIRST, "version": "v99"}), "$.inputs[1]: no dataset"),
    (lambda d: d["parameters"].update(cat="x"), "$.parameters.cat: the notebook does not declare it"),
    (lambda d: d["parameters"].update(inputs={"x": "/etc/shadow"}), "$.parameters.inputs: set by the job"),
    (lambda d: d.update(output={"path": "../../etc"}), "$.output.path"),
    (lambda d: d.update(output={"path": "/etc/cron.d"}), "$.output.path"),
    (lambda d: d["notebook"].update(path="../analysis.ipynb"), "$.notebook.path"),
    (lambda d: d["notebook"].update(sha256="0" * 64), "$.notebook.sha256: the notebook's bytes"),
    (lambda d: d["inputs"][0].update(sha256="1" * 64), "$.inputs[0].sha256: does not match"),
    (lambda d: d.update(site="tacc"), "$.site: 'tacc' is not a site here"),
    (lambda d: d.update(site="x; rm -rf /"), "$.site"),
    (lambda d: d.update(resources={"gpus": "1"}), "the local site takes no profile"),
    (lambda d: d["parameters"].update({"$(id)": 1}), "$.parameters"),
])
def test_bad_manifests_are_refused_naming_the_path_and_nothing_is_staged(demo_registry, area, job_accounts,
                                                                           change, message):
    jobs = jobs_for(demo_registry, area, "alice", job_accounts[0])
    doc = manifest(area, inputs=[demo_registry.get(FIRST)], parameters={"threshold": 4.0})
    change(doc)
    with pytest.raises(InvalidManifest) as refused:
        jobs.submit(doc)
    assert message in refused.value.message and refused.value.reason == "invalid_manifest"
    assert not (area / "jobs").exists()
    with demo_registry.Session() as session:
        assert session.scalar(select(func.count()).select_from(JobRow)) == 0


def test_a_failing_notebook_fails_with_the_cells_error_and_caches_nothing(demo_registry, area, job_env, job_accounts):
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("inputs = {}\nboxes = 4", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("open('partial.txt', 'w').write('half')\nper_box = len(inputs) / (boxes - 4)")],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(nb, area / "divides.ipynb")
    jobs = jobs_for(demo_registry, area, "alice", job_accounts[0])
    job = jobs.submit(manifest(area, notebook="divides.ipynb", inputs=[demo_registry.get(FIRST)]))
    status = job.wait(timeout=180).status()
    assert status["state"] == "failed" and "ZeroDivisionError" in status["reason"] and "cell 3" in status["reason"], status  # papermill injects the parameters as cell 2
    assert jobs.cache.stats()["entries"] == 0
    with pytest.raises(InvalidManifest, match="is failed"):
        job.result()


def test_cancelling_a_running_job_stops_it_and_its_kernel(demo_registry, area, job_env, job_accounts):
    jobs = jobs_for(demo_registry, area, "alice", job_accounts[0])
    job = jobs.submit(manifest(area, notebook=slow_notebook(area), parameters={"seconds": 120}))
    deadline = time.monotonic() + 60
    while "ipykernel" not in _processes_of(job_accounts[0]) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert job.state == "running"
    assert job.cancel().status()["state"] == "cancelled"
    deadline = time.monotonic() + 20
    while _processes_of(job_accounts[0]) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert _processes_of(job_accounts[0]) == ""


def _processes_of(account: str) -> str:
    return subprocess.run(["pgrep", "-a", "-u", account], capture_output=True, text=True).stdout


def test_the_same_manifest_sent_concurrently_is_one_job(demo_registry, area, job_env, job_accounts):
    from concurrent.futures import ThreadPoolExecutor

    jobs = jobs_for(demo_registry, area, "alice", job_accounts[0])
    doc = manifest(area, notebook=slow_notebook(area), parameters={"seconds": 1})
    with ThreadPoolExecutor(8) as pool:
        ids = set(pool.map(lambda _: jobs.submit(doc).id, range(16)))
    assert len(ids) == 1
    with demo_registry.Session() as session:
        assert session.scalar(select(func.count()).select_from(JobRow)) == 1
    assert jobs.get(ids.pop()).wait(timeout=120).state == "done"
    assert len(list((area / "jobs" / "alice").iterdir())) == 1


def test_a_restarted_server_reattaches_to_its_running_local_job(demo_registry, area, job_env, job_accounts):
    first = jobs_for(demo_registry, area, "alice", job_accounts[0])
    job = first.submit(manifest(area, notebook=slow_notebook(area), parameters={"seconds": 6}))
    assert job.state == "running"
    restarted = jobs_for(demo_registry, area, "alice", job_accounts[0])  # new site: it never started the job
    assert restarted.get(job.id).state == "running"
    assert restarted.get(job.id).wait(timeout=120).state == "done"


def test_a_jobs_files_and_staged_inputs_are_its_owners_alone(demo_registry, area, job_env, job_accounts):
    """Whatever the umask, another account reads none of a job's folder, log, executed notebook, results or
    the staged bytes of its input; the job's own account reads them all (the positive control)."""
    owner, other = job_accounts
    jobs = jobs_for(demo_registry, area, "alice", owner)
    previous = os.umask(0o022)
    try:
        job = jobs.submit(manifest(area, inputs=[demo_registry.get(FIRST)], parameters={"threshold": 4.5}))
        assert job.wait(timeout=180).status()["state"] == "done", job.log()
    finally:
        os.umask(previous)
    with jobs.sessions() as session:
        workdir = Path(session.get(JobRow, job.id).workdir)
    staged = Path(json.loads((workdir / "job.json").read_text())["inputs"][FIRST])
    results = sorted(p for p in (workdir / "outputs").rglob("*") if p.is_file())
    assert results and staged.is_file()
    for folder in (workdir, workdir / "outputs", staged.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    private = [workdir / "job.json", workdir / "notebook.ipynb", staged, *results,
               *(p for p in workdir.iterdir() if p.is_file())]
    for path in private:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, (path, oct(path.stat().st_mode))

    def read_as(account, path):
        return subprocess.run(["runuser", "-u", account, "--", "cat", str(path)], capture_output=True).returncode

    for path in private:
        assert read_as(other, path) != 0, path
        assert read_as(owner, path) == 0, path
