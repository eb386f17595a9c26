"""``jupyter-vlass jobs`` and ``cache`` as a user types them: the real CLI, a real notebook, real data."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.jobs.jobs_fixtures import manifest
from tests.hub import JOB_ENV

FIRST = "tacc:first/J105007+304037.fits"
pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def cli(demo_registry, area, job_env, job_accounts):
    config = area / "jobs.yaml"
    config.write_text(json.dumps({"sites": {"local": {"kind": "local", "python": str(JOB_ENV / "bin" / "python")}},
                                  "jobs_dir": str(area / "jobs"), "account": job_accounts[0]}))
    db = demo_registry.engine.url.render_as_string(hide_password=False)

    def run(*args, stdin=None):
        group, action, *rest = args
        argv = [sys.executable, "-m", "jupyter_vlass.cli", "--db", db, group, action, "--config", str(config),
                "--root", str(area), *rest]
        return subprocess.run(argv, capture_output=True, text=True, input=stdin, timeout=240)
    return run


def test_submit_wait_list_show_logs_and_cache(cli, area, demo_registry):
    path = area / "job.json"
    path.write_text(json.dumps(manifest(area, inputs=[demo_registry.get(FIRST)], parameters={"threshold": 4.0})))
    done = cli("jobs", "submit", str(path), "--wait", "--json")
    assert done.returncode == 0, done.stderr
    job = json.loads(done.stdout)
    assert job["state"] == "done" and "running" in done.stderr
    again = cli("jobs", "submit", "-", "--json", stdin=path.read_text())
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["id"] == job["id"]
    listed = cli("jobs", "list")
    assert listed.returncode == 0 and job["id"] in listed.stdout and "done" in listed.stdout
    shown = cli("jobs", "show", job["id"])
    assert "catalogue.ecsv" in shown.stdout and "sha256:" in shown.stdout
    assert cli("jobs", "logs", job["id"], "--lines", "20").returncode == 0
    stats = json.loads(cli("cache", "stats", "--json").stdout)
    assert stats["entries"] == 1 and stats["computed"] == 1
    assert cli("cache", "gc", "--verify").stdout.strip() == "removed 0 cached results"


@pytest.mark.parametrize("args, stdin, words", [
    (("jobs", "submit", "-"), "{not json", "cannot read the manifest"),
    (("jobs", "submit", "-"), json.dumps({"manifest_version": 1, "site": "local"}), "manifest $: 'notebook'"),
    (("jobs", "show", "j0000000000000000"), None, "no job"),
    (("jobs", "cancel", "'; rm -rf /"), None, "no job"),
    (("jobs", "logs", "x", "--lines", "0"), None, "from 1 to 10000"),
])
def test_bad_input_exits_2_with_a_message(cli, args, stdin, words):
    done = cli(*args, stdin=stdin)
    assert done.returncode == 2 and words in done.stderr, (done.returncode, done.stderr)


def test_publish_verify_fork_diff_and_analyses_from_the_cli(demo_registry, area, job_env, job_accounts, tmp_path):
    config = area / "jobs.yaml"
    config.write_text(json.dumps({"sites": {"local": {"kind": "local", "python": str(JOB_ENV / "bin" / "python")}},
                                  "jobs_dir": str(area / "jobs"), "account": job_accounts[0]}))
    db = demo_registry.engine.url.render_as_string(hide_password=False)
    where = ["--store", str(tmp_path / "capsules"), "--keys", str(tmp_path / "keys")]

    def run(*args, jobs=True):
        extra = ["--config", str(config), "--root", str(area)] if jobs else []
        return subprocess.run([sys.executable, "-m", "jupyter_vlass.cli", "--db", db, *args, *where, *extra],
                              capture_output=True, text=True, timeout=240)

    version = demo_registry.get(FIRST).version
    published = run("publish", "analysis-rms-catalogue.ipynb", "-p", "threshold", "4.0", "--input",
                    f"{FIRST}@{version}", "--json")
    assert published.returncode == 0, published.stderr
    capsule = json.loads(published.stdout)
    assert capsule["new"] and run("verify", capsule["capsule_id"], jobs=False).returncode == 0

    refused = run("fork", capsule["capsule_id"], "-p", "thresh", "3", "--dry-run")
    assert refused.returncode == 2 and "BREAKING" in refused.stdout and "thresh" in refused.stdout
    bad = run("fork", capsule["capsule_id"], "-p", "thresh", "3", "--wait")
    assert bad.returncode == 2 and "not compatible" in bad.stderr
    forked = run("fork", capsule["capsule_id"], "-p", "threshold", "1.0", "--wait", "--json")
    assert forked.returncode == 0, forked.stderr
    job = json.loads(forked.stdout)
    fork = json.loads(run("publish", "--job", job["id"], "--json").stdout)
    shown = run("diff", capsule["capsule_id"], fork["capsule_id"], "--figure", str(tmp_path / "diff.png"), jobs=False)
    assert shown.returncode == 0 and "catalogue.ecsv: original" in shown.stdout and "new, 0 lost" in shown.stdout
    assert (tmp_path / "diff.png").read_bytes()[:4] == b"\x89PNG"
    listed = json.loads(run("analyses", "list", "--json", jobs=False).stdout)
    assert {a["id"] for a in listed} == {capsule["capsule_id"], fork["capsule_id"]}
    assert run("analyses", "show", "0" * 64, jobs=False).returncode == 2


def test_publish_of_a_notebook_answered_from_the_cache_publishes_a_run(demo_registry, area, job_env, job_accounts,
                                                                        tmp_path):
    """``publish NOTEBOOK`` as the README shows it, when the cache holds the result: the user's own run that
    computed it is published; when another user's run did, the analysis is computed again and published."""
    import getpass

    from jupyter_vlass.jobs.jobs import Jobs
    from jupyter_vlass.jobs.sites import LocalSite
    from jupyter_vlass.reproducibility.store import CapsuleStore

    config = area / "jobs.yaml"
    config.write_text(json.dumps({"sites": {"local": {"kind": "local", "python": str(JOB_ENV / "bin" / "python")}},
                                  "jobs_dir": str(area / "jobs"), "account": job_accounts[0]}))
    db = demo_registry.engine.url.render_as_string(hide_password=False)
    first = demo_registry.get(FIRST)

    def computed_by(owner: str, threshold: float):
        site = LocalSite(python=str(JOB_ENV / "bin" / "python"), account=job_accounts[0])
        jobs = Jobs(demo_registry, sites={"local": site}, root=area, owner=owner, jobs_dir=area / "jobs")
        job = jobs.submit(manifest(area, inputs=[first], parameters={"threshold": threshold},
                                   output={"path": f"results/{owner}"}))
        assert job.wait(timeout=180).state == "done", job.log()
        return job

    def publish(threshold: str):
        return subprocess.run([sys.executable, "-m", "jupyter_vlass.cli", "--db", db, "publish",
                               "analysis-rms-catalogue.ipynb", "-p", "threshold", threshold, "--input",
                               f"{FIRST}@{first.version}", "--json", "--store", str(tmp_path / "capsules"),
                               "--keys", str(tmp_path / "keys"), "--config", str(config), "--root", str(area)],
                              capture_output=True, text=True, timeout=240)

    mine = computed_by(getpass.getuser(), 4.5)
    done = publish("4.5")
    assert done.returncode == 0, done.stderr
    assert f"publishing job {mine.id}, which computed it" in done.stderr
    store = CapsuleStore(tmp_path / "capsules")

    def run_of(capsule_id: str) -> str:  # the run the capsule's crate records
        crate = json.loads((store.path(capsule_id) / "ro-crate-metadata.json").read_text())
        return next(e["@id"] for e in crate["@graph"] if e.get("@type") == "CreateAction")

    capsule_id = json.loads(done.stdout)["capsule_id"]
    assert store.show(capsule_id)["status"] == "completed" and run_of(capsule_id) == f"#run-{mine.id}"

    theirs = computed_by("bob", 3.5)
    again = publish("3.5")
    assert again.returncode == 0, again.stderr
    assert "answered from another user's run: computing it again" in again.stderr
    capsule_id = json.loads(again.stdout)["capsule_id"]
    assert store.show(capsule_id)["status"] == "completed"
    assert run_of(capsule_id) != f"#run-{theirs.id}" and run_of(capsule_id).startswith("#run-j")
