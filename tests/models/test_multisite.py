"""One tile, one model, two sites through the job system: the notebook ``notebooks/detect-sources.ipynb``
runs the classical detector on the sample's full VLASS-like tile on the local site and on the local Slurm
(computed at both, not answered from the cache); the consensus of the two runs and the discrepancy between
the sites, by detection and pixel by pixel (each job's class map); a model that fails at one site is named and the others still count."""

from __future__ import annotations

import shutil

import pytest
from astropy.table import Table

from jupyter_vlass.jobs.jobs import Jobs
from jupyter_vlass.compute.profiles import load_profiles
from jupyter_vlass.jobs.sites import LocalSite, SlurmJobSite
from jupyter_vlass.models.consensus import Run, aggregate
from jupyter_vlass.models.pixels import read_classes
from tests.jobs.jobs_fixtures import manifest
from tests.hub import JOB_ENV
from tests.models.conftest import BEAM_DEG
from tests.services import REPO

pytestmark = pytest.mark.timeout(600)
TILE = "vlass:VLASS2.2.ql.T08t20.J135700-180000"


def test_one_tile_on_the_local_and_the_slurm_site(slurm, job_env, demo_registry, area, job_accounts):
    shutil.copy(REPO / "notebooks" / "detect-sources.ipynb", area / "detect-sources.ipynb")
    (area / "detect-sources.ipynb").chmod(0o644)
    sites = {"slurm": SlurmJobSite(environment=str(JOB_ENV), account=job_accounts[0], poll_interval=1.0),
             "local": LocalSite(python=str(JOB_ENV / "bin" / "python"), account=job_accounts[0])}
    jobs = Jobs(demo_registry, sites=sites, root=area, owner="alice", jobs_dir=area / "jobs",
                profiles=load_profiles(REPO / "hub_config" / "profiles.yaml"))
    base = manifest(area, notebook="detect-sources.ipynb", inputs=[demo_registry.get(TILE, "v1")],
                    parameters={"model": "classical"}, recompute=True)
    submitted = {"local": jobs.submit(base),
                 "slurm": jobs.submit({**base, "site": "slurm", "profile": "tacc-a100",
                                       "resources": {"gpus": "1", "walltime": "1h", "memory": "2G"}})}
    broken = jobs.submit({**base, "parameters": {"model": "nonesuch"}})
    runs = []
    for site, job in submitted.items():
        status = job.wait(timeout=400).status()
        assert status["state"] == "done" and status["cached_from"] is None, (site, job.log())
        outputs = job.result()
        table = Table.read(outputs["detections.ecsv"])
        runs.append(Run("classical", table.meta["version"], site, table, classes=read_classes(outputs["classes.fits"])[TILE]))
    status = broken.wait(timeout=200).status()
    assert status["state"] == "failed" and "nonesuch" in status["reason"]
    runs.append(Run("nonesuch", "?", "local", None, error=status["reason"]))

    result = aggregate(runs, radius_deg=BEAM_DEG)
    summary = result.summary()
    assert [f["run"] for f in summary["failed"]] == ["nonesuch@local"] and "nonesuch" in summary["failed"][0]["reason"]
    assert summary["detections"] > 50 and summary["agree"] == summary["detections"], summary
    discrepancy = result.site_discrepancy["classical"]
    assert discrepancy["sites"] == ["local", "slurm"] and discrepancy["compared"] > 50
    assert discrepancy["fraction"] < 0.05, discrepancy  # the spec's bound in high-confidence regions
    pixels = summary["pixels"]  # the class maps the two sites wrote, compared pixel by pixel
    assert pixels["runs"] == ["classical@local", "classical@slurm"] and pixels["marked"] > 500
    assert pixels["agree_fraction"] == 1.0, pixels
