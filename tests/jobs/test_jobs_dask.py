"""A Dask cluster of Slurm jobs for one analysis job (dask-jobqueue on the real local Slurm): the notebook
gets the scheduler's address, its work runs on worker jobs of its own, and the workers are gone when the
notebook ends; a cluster that is not possible is refused before anything runs."""

from __future__ import annotations

import json
import subprocess
import time

import nbformat
import pytest

from jupyter_vlass.exceptions import InvalidManifest
from tests.jobs.jobs_fixtures import manifest, slow_notebook
from tests.jobs.test_jobs_slurm import jobs  # noqa: F401 (the Slurm and local sites of one user)

pytestmark = pytest.mark.timeout(400)
KERNEL = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
BODY = """import json, os
from distributed import Client
import dask.array as da
client = Client(dask_scheduler)
total = float(da.ones((4000, 4000), chunks=(1000, 1000)).sum().compute())
workers = client.run(lambda: os.environ.get("SLURM_JOB_ID"))
json.dump({"total": total, "worker_jobs": sorted(workers.values()), "job": os.environ.get("SLURM_JOB_ID")},
          open("dask.json", "w"))
client.close()
"""


def worker_jobs(account: str) -> list[str]:
    out = subprocess.run(["squeue", "-h", "-u", account, "--name=vlass-dask-worker", "-o", "%i"],
                         capture_output=True, text=True, check=True).stdout
    return out.split()


def test_a_job_computes_on_a_dask_cluster_of_slurm_jobs(jobs, area, job_accounts):  # noqa: F811
    nbformat.write(nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("dask_scheduler = None\ninputs = {}", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(BODY)], metadata=KERNEL), area / "dask.ipynb")
    doc = manifest(area, notebook="dask.ipynb", site="slurm", profile="tacc-cpu",
                   dask={"workers": 2, "cores": 1, "memory": "1G", "walltime": "10min"})
    job = jobs.submit(doc)
    status = job.wait(timeout=300).status()
    assert status["state"] == "done", (status, job.log())
    result = json.loads(job.result()["dask.json"].read_text())
    assert result["total"] == 4000 * 4000
    assert len(set(result["worker_jobs"])) == 2 and result["job"] not in result["worker_jobs"]
    deadline = time.monotonic() + 60
    while worker_jobs(job_accounts[0]) and time.monotonic() < deadline:
        time.sleep(1)
    assert worker_jobs(job_accounts[0]) == []  # the workers went with the notebook


def test_a_cluster_that_is_not_possible_is_refused_before_anything_runs(jobs, area):  # noqa: F811
    nbformat.write(nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("dask_scheduler = None\ninputs = {}", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("pass")], metadata=KERNEL), area / "dask.ipynb")
    slurm = {"notebook": "dask.ipynb", "site": "slurm", "profile": "tacc-cpu"}
    cases = [({"site": "local"}, {"workers": 1}, "runs on a Slurm site"),
             ({"notebook": slow_notebook(area)}, {"workers": 1}, "does not declare 'dask_scheduler'"),
             ({}, {"workers": 2, "cores": 99}, r"\$\.dask: cpus: 99 is outside"),
             ({}, {"workers": 2, "walltime": "30h"}, r"\$\.dask: walltime"),
             ({}, {"workers": 0}, r"\$\.dask\.workers"),
             ({}, {"workers": 1, "queue": "gpu-a100"}, r"\$\.dask")]
    for overrides, dask, message in cases:
        settings = {**slurm, **overrides}
        if settings["site"] == "local":
            settings.pop("profile")
        with pytest.raises(InvalidManifest, match=message):
            jobs.submit(manifest(area, dask=dask, **settings))
    assert jobs.list(refresh=False) == []  # nothing was claimed, staged or submitted
