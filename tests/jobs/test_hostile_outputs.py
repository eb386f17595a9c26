"""A job is the user's code: it can write any status file and plant links among its outputs. The server (root
here, as in ``make demo`` and under a hub) must never chmod, hash, link or copy anything outside the job's
outputs because of that, and must not break: the forged job ends failed with the reason, the listing
still answers, nothing reaches the cache. A root-only file stands in for /etc/shadow; a positive control
delivers a plain output."""

from __future__ import annotations

import json
import stat
import time
from datetime import timedelta

import nbformat
import pytest
from sqlalchemy import update

from jupyter_vlass.jobs.jobs import Jobs
from jupyter_vlass.jobs.sites import LocalSite
from jupyter_vlass.store import CacheEntryRow
from jupyter_vlass.store.times import utcnow
from tests.hub import JOB_ENV
from tests.jobs.jobs_fixtures import manifest

pytestmark = pytest.mark.timeout(300)
SECRET = "root-only bytes: never in a user's area"

# The notebook plants a link to the secret among its outputs, writes a status file of its own that names
# the link, the secret's path relative to the outputs (out of the job's folder) or its absolute path, and
# kills the job's runner so that its forged status is the last word. Only files of the test are aimed at:
# a regression must never reach the machine's own (an unchecked name was once unlinked by the delivery).
FORGE = """
import json, os, signal
os.symlink(secret, "leak.txt")
os.makedirs("sub", exist_ok=True)
os.symlink(os.path.dirname(secret), "sub/dir")
aimed = {{"@relative": os.path.relpath(secret), "@absolute": secret}}
entries = [{{"name": aimed.get(n, n), "sha256": "0" * 64, "size": 1}} for n in names]
with open("../status.json", "w") as fh:
    json.dump({{"state": "done", "files": entries, "elapsed_s": 1.0}}, fh)
os.kill(os.getppid(), signal.SIGKILL)
"""


@pytest.fixture
def secret(tmp_path):
    folder = tmp_path / "private"
    folder.mkdir()
    folder.chmod(0o711)  # the job account may traverse it (to make links), not list or read it
    path = folder / "shadow"
    path.write_text(SECRET)
    path.chmod(0o600)
    return path


@pytest.fixture
def jobs(registry, area, job_env, job_accounts):
    site = LocalSite(python=str(JOB_ENV / "bin" / "python"), account=job_accounts[0])
    return Jobs(registry, sites={"local": site}, root=area, owner="alice", jobs_dir=area / "jobs")


def _notebook(area, name: str, code: str) -> str:
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("secret = ''\nnames = []\ninputs = {}", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(code)],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(nb, area / name)
    return name


def _wait_ended(job, timeout=120):
    deadline = time.monotonic() + timeout
    while job.status()["state"] not in ("done", "failed", "cancelled"):
        assert time.monotonic() < deadline, job.status()
        time.sleep(0.5)
    return job.status()


def _nowhere_in(area, text: str) -> bool:
    for path in area.rglob("*"):
        if path.is_file() and not path.is_symlink() and text.encode() in path.read_bytes():
            return False
    return True


@pytest.mark.parametrize("names, refused", [
    (["leak.txt"], "leak.txt"),
    (["sub/dir/shadow"], "sub/dir/shadow"),
    (["@relative"], "leaves the job's outputs"),
    (["@absolute"], "leaves the job's outputs"),
])
def test_a_forged_status_naming_links_or_outside_paths_fails_the_job_and_touches_nothing(
        jobs, area, secret, names, refused):
    notebook = _notebook(area, "forge.ipynb", FORGE.format())
    job = jobs.submit(manifest(area, notebook=notebook, parameters={"secret": str(secret), "names": names},
                               output={"path": "results"}))
    status = _wait_ended(job)
    assert status["state"] == "failed", status
    assert refused in status["reason"] and "output" in status["reason"], status["reason"]
    assert secret.read_text() == SECRET, "the secret is where it was, whole"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600, "the secret was never chmod-ed"
    assert _nowhere_in(area, SECRET), "no copy of the secret reached the user's area"
    assert not (area / "results").exists() or not any((area / "results").iterdir())
    assert jobs.cache.stats()["entries"] == 0
    assert [j.status()["state"] for j in jobs.list()] == ["failed"], "the listing answers (no error)"


def test_a_plain_output_is_delivered_and_cached(jobs, area, secret):
    """The positive control: the same kind of notebook, writing a plain file, is done and delivered."""
    notebook = _notebook(area, "plain.ipynb", 'open("result.txt", "w").write("fine")')
    job = jobs.submit(manifest(area, notebook=notebook, parameters={"secret": str(secret)},
                               output={"path": "results"}))
    assert _wait_ended(job)["state"] == "done", job.log()
    assert (area / "results" / "result.txt").read_text() == "fine"
    assert jobs.cache.stats()["entries"] == 1


def test_a_delivery_that_fails_fails_the_job_with_the_reason(jobs, area, secret):
    notebook = _notebook(area, "slowplain.ipynb", 'import time\ntime.sleep(3)\nopen("result.txt", "w").write("x")')
    job = jobs.submit(manifest(area, notebook=notebook, parameters={"secret": str(secret)},
                               output={"path": "results"}))
    (area / "results").write_text("the user made a file here meanwhile")
    status = _wait_ended(job)
    assert status["state"] == "failed", status
    assert "could not be delivered" in status["reason"] and "results" in status["reason"], status["reason"]
    assert (area / "results").read_text() == "the user made a file here meanwhile"


def test_cache_gc_removes_links_without_following_them(jobs, area, secret):
    notebook = _notebook(area, "plain2.ipynb", 'open("result.txt", "w").write("fine")')
    job = jobs.submit(manifest(area, notebook=notebook, parameters={"secret": str(secret)}))
    assert _wait_ended(job)["state"] == "done"
    location = job.result()["result.txt"].parent
    (location / "planted").symlink_to(secret)  # the job account owns the folder: it can do this later
    with jobs.sessions.begin() as session:
        session.execute(update(CacheEntryRow).values(expires_at=utcnow() - timedelta(days=1)))
    removed = jobs.cache.gc(owned_under=jobs.jobs_dir)
    assert [r["why"] for r in removed] == ["expired"]
    assert not location.exists()
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600 and secret.read_text() == SECRET


def test_status_files_the_job_wrote_are_json_the_server_checks(jobs, area, secret):
    """A status file that is not an object of the expected shapes ends the job failed, not the server."""
    notebook = _notebook(area, "garbage.ipynb", (
        "import json, os, signal\n"
        "open('../status.json', 'w').write(json.dumps({'state': 'done', 'files': 'everything'}))\n"
        "os.kill(os.getppid(), signal.SIGKILL)"))
    job = jobs.submit(manifest(area, notebook=notebook, parameters={"secret": str(secret)}))
    status = _wait_ended(job)
    assert status["state"] == "failed" and "output" in status["reason"], status
    assert json.loads(json.dumps(status))  # a plain document
