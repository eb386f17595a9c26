"""Publishing a detection analysis is gated on its consensus: ``notebooks/detect-sources.ipynb`` run as a job
on the real FIRST image; without a consensus of that image, or with one the experts sank, publish is refused
with the reasons (Python and CLI, exit 2) and nothing is written; a passing consensus, or an admin's override,
lets it through; a job that is not a detection analysis is not gated."""

from __future__ import annotations

import getpass
import json
import shutil
import subprocess
import sys

import pytest
from astropy.table import Table

from jupyter_vlass.jobs.jobs import Jobs
from jupyter_vlass.jobs.sites import LocalSite
from jupyter_vlass.models.consensus import Run, aggregate
from jupyter_vlass.review.review import PublishRefused, Review
from jupyter_vlass.reproducibility.capsule import gate_preview, publish
from jupyter_vlass.reproducibility.keys import Keyring
from jupyter_vlass.reproducibility.store import CapsuleStore
from tests.jobs.jobs_fixtures import manifest
from tests.hub import JOB_ENV
from tests.models.conftest import BEAM_DEG
from tests.services import REPO

pytestmark = pytest.mark.timeout(400)
FIRST = "tacc:first/J105007+304037.fits"


@pytest.fixture
def detection_job(demo_registry, area, job_env, job_accounts):
    shutil.copy(REPO / "notebooks" / "detect-sources.ipynb", area / "detect-sources.ipynb")
    site = LocalSite(python=str(JOB_ENV / "bin" / "python"), account=job_accounts[0])
    jobs = Jobs(demo_registry, sites={"local": site}, root=area, owner=getpass.getuser(), jobs_dir=area / "jobs")
    job = jobs.submit(manifest(area, notebook="detect-sources.ipynb", inputs=[demo_registry.get(FIRST)],
                               parameters={"model": "classical", "threshold": 4.0}))
    assert job.wait(timeout=240).state == "done", job.log()
    return job


@pytest.fixture
def second_run(detection_job, slurm, demo_registry, area, job_accounts):
    """The same analysis computed again, on the local Slurm (a second site), not taken from the cache."""
    from jupyter_vlass.compute.profiles import load_profiles
    from jupyter_vlass.jobs.sites import SlurmJobSite

    sites = {"slurm": SlurmJobSite(environment=str(JOB_ENV), account=job_accounts[0], poll_interval=1.0)}
    jobs = Jobs(demo_registry, sites=sites, root=area, owner=getpass.getuser(), jobs_dir=area / "jobs",
                profiles=load_profiles(REPO / "hub_config" / "profiles.yaml"))
    job = jobs.submit(manifest(area, notebook="detect-sources.ipynb", inputs=[demo_registry.get(FIRST)],
                               parameters={"model": "classical", "threshold": 4.0}, site="slurm",
                               profile="tacc-cpu", recompute=True))
    status = job.wait(timeout=300).status()
    assert status["state"] == "done" and status["cached_from"] is None, job.log()
    return job


def test_publish_waits_for_a_consensus_and_obeys_the_experts_and_the_admin(detection_job, second_run, demo_registry,
                                                                           tmp_path):
    review = Review(demo_registry.Session, threshold=0.8)
    store, keys = CapsuleStore(tmp_path / "capsules"), Keyring(tmp_path / "keys")
    version = demo_registry.get(FIRST).version
    with pytest.raises(PublishRefused, match="no consensus"):
        publish(detection_job, store=store, keyring=keys, gate=review)
    assert store.list() == [] and not list((tmp_path / "capsules").glob("*/capsule.sig"))
    # What the Publish dialog shows first: the gate's say on the job's input, publishing nothing.
    [preview] = gate_preview(detection_job, review)
    assert (preview["dataset_id"], preview["version"], preview["passed"]) == (FIRST, version, False)
    assert "no consensus" in preview["explanation"] and store.list() == []

    # The job's run and the same analysis computed at a second site: two real runs, a consensus that passes.
    here, there = (Table.read(job.result()["detections.ecsv"]) for job in (detection_job, second_run))
    assert detection_job.result()["detections.ecsv"] != second_run.result()["detections.ecsv"]
    runs = [Run("classical", here.meta["version"], "local", here), Run("classical", there.meta["version"], "slurm", there)]
    review.record(dataset_id=FIRST, version=version, user="alice", consensus=aggregate(runs, radius_deg=BEAM_DEG))
    decision = review.gate(FIRST, version)
    assert decision.passed and decision.score >= 0.8, decision
    [preview] = gate_preview(detection_job, review)
    assert preview["passed"] and preview["score"] == decision.score and preview["threshold"] == 0.8, preview
    capsule = publish(detection_job, store=store, keyring=keys, gate=review)
    assert capsule.new and store.show(capsule.capsule_id)["status"] == "completed"

    # A newer consensus the experts sank: refused again, with why; the admin's override lets it through.
    result = review.record(dataset_id=FIRST, version=version, user="alice", consensus=aggregate(runs, radius_deg=BEAM_DEG))
    candidates = [d["detection"] for d in review.latest(FIRST)["detections"] if d["score"] >= 0.5]
    for number in candidates:
        review.vote(result_id=result["id"], detection=number, user="bob", verdict="false_positive")
    shutil.rmtree(tmp_path / "capsules")
    with pytest.raises(PublishRefused) as refused:
        publish(detection_job, store=store, keyring=keys, gate=review)
    assert f"{len(candidates)} false positive" in refused.value.message and store.list() == []
    review.override(dataset_id=FIRST, version=version, by="admin", reason="bob voted on the wrong image")
    assert publish(detection_job, store=store, keyring=keys, gate=review).new


def test_the_cli_refuses_with_the_reasons_and_exit_2(detection_job, demo_registry, area, job_accounts, tmp_path):
    config = area / "jobs.yaml"
    config.write_text(json.dumps({"sites": {"local": {"kind": "local", "python": str(JOB_ENV / "bin" / "python")}},
                                  "jobs_dir": str(area / "jobs"), "account": job_accounts[0]}))
    db = demo_registry.engine.url.render_as_string(hide_password=False)
    refused = subprocess.run([sys.executable, "-m", "jupyter_vlass.cli", "--db", db, "publish", "--job", detection_job.id,
                              "--store", str(tmp_path / "capsules"), "--keys", str(tmp_path / "keys"),
                              "--config", str(config), "--root", str(area)], capture_output=True, text=True, timeout=240)
    assert refused.returncode == 2 and "publishing refused" in refused.stderr and "no consensus" in refused.stderr
    assert not (tmp_path / "capsules").exists() or not any((tmp_path / "capsules").iterdir())


def test_a_published_analysis_rechecked_is_marked_with_what_derives_from_it(detection_job, second_run, demo_registry,
                                                                            area, tmp_path):
    """``jupyter-vlass audit recheck``: the same model agrees (confirmed, nothing marked); a much stricter
    one loses most published sources: Retracted, on the capsule and on its replay, in the audit trail."""
    review = Review(demo_registry.Session, threshold=0.8)
    store, keys = CapsuleStore(tmp_path / "capsules"), Keyring(tmp_path / "keys")
    version = demo_registry.get(FIRST).version
    here, there = (Table.read(job.result()["detections.ecsv"]) for job in (detection_job, second_run))
    runs = [Run("classical", "1", "local", here), Run("classical", "1", "slurm", there)]
    review.record(dataset_id=FIRST, version=version, user="alice", consensus=aggregate(runs, radius_deg=BEAM_DEG))
    original = publish(detection_job, store=store, keyring=keys, gate=review).capsule_id
    replay = detection_job.jobs.submit({**detection_job.jobs.row(detection_job.id).manifest, "replay_of": original,
                                        "recompute": True})
    assert replay.wait(timeout=240).state == "done", replay.log()
    child = publish(replay, store=store, keyring=keys, gate=review).capsule_id
    assert store.show(child)["parent"] == original

    db = demo_registry.engine.url.render_as_string(hide_password=False)

    def audit(*args):
        return subprocess.run([sys.executable, "-m", "jupyter_vlass.cli", "--db", db, "audit", *args],
                              capture_output=True, text=True, timeout=240)

    same = audit("recheck", original, "--model", "classical", "--threshold", "4.0", "--store", str(tmp_path / "capsules"),
                 "--json")
    assert same.returncode == 0, same.stderr
    assert json.loads(same.stdout)["verdict"] == "confirmed" and review.marks(f"capsule:{original}") == []
    strict = audit("recheck", original, "--model", "classical", "--threshold", "60", "--store",
                   str(tmp_path / "capsules"), "--json")
    report = json.loads(strict.stdout)
    assert report["verdict"] == "Retracted" and report["lost"] > report["kept"], report
    assert report["marked"] == [f"capsule:{original}", f"capsule:{child}"]
    [mark] = review.marks(f"capsule:{child}")
    assert mark["mark"] == "Retracted" and mark["because"] == f"capsule:{original}" and "not found" in mark["explanation"]
    shown = audit("marks", f"capsule:{original}")
    assert shown.returncode == 0 and shown.stdout.startswith("Retracted by ")
    assert audit("verify").returncode == 0

    # Tampering with the trail is found and named.
    from sqlalchemy import update

    from jupyter_vlass.store.consensus_models import AuditEntryRow

    with demo_registry.Session.begin() as session:
        session.execute(update(AuditEntryRow).where(AuditEntryRow.seq == 2).values(actor="mallory"))
    broken = audit("verify")
    assert broken.returncode == 2 and "audit entry 2" in broken.stderr, broken.stderr
