"""The hub-wide result cache (jobs.hub_results): what the service takes from a user's server, what it hands to
another user, and two users' servers sharing one result through it (the service's side as a fake that
answers as the real routes do, over a real HubResults and JobRecords; test_hub_jobs meets the real hub)."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path

import nbformat
import pytest
from sqlalchemy import delete

from jupyter_vlass.exceptions import InvalidArgument
from jupyter_vlass.jobs.archive import BadArchive, pack_files
from jupyter_vlass.jobs.hub_results import HubResults, ResultRefused, UnknownResult, claimed_key
from jupyter_vlass.jobs.job_records import JobRecords
from jupyter_vlass.jobs.jobs import Jobs
from jupyter_vlass.jobs.manifest import JobManifest
from jupyter_vlass.jobs.sites import LocalSite
from jupyter_vlass.store import CacheEntryRow, make_engine, session_factory
from jupyter_vlass.version import __version__
from tests.compute.test_ledger_approvals import sessions  # noqa: F401 (the SQLite/PostgreSQL fixture)
from tests.hub import JOB_ENV
from tests.jobs.jobs_fixtures import manifest

pytestmark = pytest.mark.timeout(300)
FIRST = "tacc:first/J105007+304037.fits"
KEY = "ab" * 32
OUT = b"what alice's job wrote\n"
EVERYONE = lambda inputs: True  # noqa: E731  (a caller whose groups read every input)


def tar(files: dict[str, bytes], *, link: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        if link:
            info = tarfile.TarInfo(link)
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/shadow"
            archive.addfile(info)
    return buffer.getvalue()


def ended_job(records: JobRecords, *, user="alice", job_id="j1.1", key=KEY, state="done", outputs=None):
    body = {"job_id": job_id, "site": "local", "notebook": "a.ipynb", "inputs": [["x:1", "v1"]], "parameters": {}}
    records.authorized(user=user, project=user, body=body, result_key=key)
    records.ended(user=user, project=user, body={**body, "state": state, "reason": None,
                                                  "outputs": outputs or {"out.txt": hashlib.sha256(OUT).hexdigest()}})


def test_the_service_takes_only_the_callers_recorded_outputs_under_its_own_key(sessions, tmp_path):  # noqa: F811
    records, results = JobRecords(sessions), HubResults(sessions, tmp_path / "results")
    ended_job(records)
    ended_job(records, job_id="j2.1", key="cd" * 32, state="failed")
    good = tar({"out.txt": OUT})
    refusals = [
        (dict(user="bob", job_id="j1.1", key=KEY, data=good), "no job 'j1.1' of yours"),  # alice's job
        (dict(user="alice", job_id="j9.1", key=KEY, data=good), "no job 'j9.1' of yours"),  # never authorized
        (dict(user="alice", job_id="j1.1", key="ef" * 32, data=good), "another result key"),  # not its key
        (dict(user="alice", job_id="j2.1", key="cd" * 32, data=good), "has not ended done"),
        (dict(user="alice", job_id="j1.1", key=KEY, data=tar({"out.txt": b"other bytes"})), "not the sha256"),
        (dict(user="alice", job_id="j1.1", key=KEY, data=tar({"out.txt": OUT, "extra": b""})), "2 files, not the 1"),
        (dict(user="alice", job_id="j1.1", key=KEY, data=tar({})), "0 files"),
    ]
    for call, message in refusals:
        with pytest.raises(ResultRefused, match=message):
            results.offer(**call)
    with pytest.raises(BadArchive, match="not a plain file"):
        results.offer(user="alice", job_id="j1.1", key=KEY, data=tar({"out.txt": OUT}, link="evil"))
    with pytest.raises(UnknownResult):
        results.offer(user="alice", job_id="j1.1", key="../../etc", data=good)
    with pytest.raises(UnknownResult):  # nothing was taken, nothing half-written
        results.show(KEY, may_read=EVERYONE)
    assert sorted(os.listdir(tmp_path / "results")) == []

    assert results.offer(user="alice", job_id="j1.1", key=KEY, data=good) == {"key": KEY, "new": True}
    assert results.offer(user="alice", job_id="j1.1", key=KEY, data=good) == {"key": KEY, "new": False}
    copy = tmp_path / "results" / KEY
    assert (copy.stat().st_mode & 0o777, (copy / "out.txt").stat().st_mode & 0o222) == (0o700, 0)
    shown = results.show(KEY, may_read=EVERYONE)
    assert shown == {"key": KEY, "job_id": "j1.1", "user": "alice", "inputs": [["x:1", "v1"]],
                     "files": [{"name": "out.txt", "sha256": hashlib.sha256(OUT).hexdigest(), "size": len(OUT)}]}
    with tarfile.open(fileobj=io.BytesIO(results.archive(KEY, may_read=EVERYONE))) as archive:
        assert archive.extractfile("out.txt").read() == OUT
    seen = []
    with pytest.raises(UnknownResult):  # a caller whose groups may not read the inputs: as if not held
        results.show(KEY, may_read=lambda inputs: seen.append(inputs) or False)
    assert seen == [[["x:1", "v1"]]]
    with pytest.raises(UnknownResult):
        results.archive(KEY, may_read=lambda inputs: False)

    # The service's copy changed on its disk: evicted at the next lookup, never handed out.
    (copy / "out.txt").chmod(0o600)
    (copy / "out.txt").write_bytes(OUT.upper())
    with pytest.raises(UnknownResult):
        results.show(KEY, may_read=EVERYONE)
    assert results.offer(user="alice", job_id="j1.1", key=KEY, data=good)["new"] is True  # offered again: taken
    assert (copy / "out.txt").read_bytes() == OUT
    assert results.remove(KEY) is True and not copy.exists() and results.remove(KEY) is False


def test_the_service_computes_the_key_the_users_server_does(demo_registry, tmp_path):
    record = demo_registry.get(FIRST)
    doc = {"manifest_version": 1, "site": "local", "notebook": {"path": "a.ipynb", "sha256": "1" * 64},
           "inputs": [{"id": FIRST, "version": record.version}], "parameters": {"threshold": 4.0},
           "model": {"name": "classical", "version": "1.0"}}
    job = JobManifest.from_json(doc)
    servers = job.result_key([record.sha256], image_digest=None, package_version=__version__)
    claims = job.key_claims(image_digest=None, package_version=__version__)
    body = {"inputs": [[FIRST, record.version]], "parameters": claims.pop("parameters"), "key": claims}
    assert claimed_key(body, demo_registry) == servers
    assert claimed_key({**body, "parameters": {"threshold": 5.0}}, demo_registry) != servers
    assert claimed_key({**body, "key": {**claims, "notebook_sha256": "2" * 64}}, demo_registry) != servers
    assert claimed_key({**body, "inputs": [[FIRST, "v99"]]}, demo_registry) is None  # not a version to read
    assert claimed_key({**body, "key": None}, demo_registry) is None and claimed_key(body, None) is None
    for bad in ({**claims, "notebook_sha256": "x"}, {**claims, "package": ""}, {**claims, "model": {"n": 1}}, []):
        with pytest.raises(InvalidArgument, match="key"):
            claimed_key({**body, "key": bad}, demo_registry)


class ServiceAccounts:
    """The hub service's side of one user's server, as its routes answer (authorize records the job under the
    key the service computes; outputs are recorded; results offered and looked up), without HTTP."""

    def __init__(self, user: str, registry, records: JobRecords, results: HubResults):
        self.user, self.registry, self.records, self.results = user, registry, records, results

    def authorize(self, *, job: dict, **_request) -> dict:
        self.records.authorized(user=self.user, project=self.user, body=job,
                                result_key=claimed_key(job, self.registry))
        return {"project": self.user}

    def record_outputs(self, row, run_id: str, *, ran: bool) -> None:
        from jupyter_vlass.jobs.hub_accounts import ended_outputs, recorded

        self.records.ended(user=self.user, project=self.user, body={
            **recorded(run_id, row.site, JobManifest.from_json(row.manifest)),
            **ended_outputs(row.result, evidence=False), "state": row.state, "reason": row.reason})

    def charge(self, **_ended) -> dict:
        return {"charged": True, "final": True, "su": 0.0}

    def report(self, **_ended) -> None:
        pass

    def cached_result(self, key: str) -> dict | None:
        try:
            return self.results.show(key, may_read=EVERYONE)
        except UnknownResult:
            return None

    def result_archive(self, key: str) -> bytes:
        return self.results.archive(key, may_read=EVERYONE)

    def offer_result(self, key: str, run_id: str, location: Path, files: list[dict]) -> dict:
        return self.results.offer(user=self.user, job_id=run_id, key=key,
                                  data=pack_files(location, [f["name"] for f in files]))


def test_a_result_computed_by_one_users_server_answers_anothers_through_the_hub(
        demo_registry, area, tmp_path, job_env, job_accounts):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("i = 0\ninputs = {}", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("import os\nos.makedirs('sub', exist_ok=True)\n"
                                  "open('sub/square.txt', 'w').write(str(i * i))")],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(nb, area / "square.ipynb")
    service = session_factory(make_engine(f"sqlite:///{tmp_path / 'service.sqlite'}"))  # the service's own database
    records, results = JobRecords(service), HubResults(service, tmp_path / "service")

    def server(user: str, account: str) -> Jobs:
        site = LocalSite(python=str(JOB_ENV / "bin" / "python"), account=account)
        return Jobs(demo_registry, sites={"local": site}, root=area, owner=user, jobs_dir=area / "jobs",
                    accounts=ServiceAccounts(user, demo_registry, records, results))

    def own_cache_only(entries_site: str) -> None:  # each user's server has its own database under a hub
        with demo_registry.Session.begin() as session:
            session.execute(delete(CacheEntryRow).where(CacheEntryRow.site == entries_site))

    doc = manifest(area, notebook="square.ipynb", inputs=[demo_registry.get(FIRST)], parameters={"i": 12})
    alice = server("alice", job_accounts[0])
    computed = alice.submit(doc).wait(timeout=180).status()
    assert computed["state"] == "done" and computed["cached_from"] is None, computed
    shown = results.show(computed["result_key"], may_read=EVERYONE)  # offered as it ended
    assert shown["user"] == "alice" and [f["name"] for f in shown["files"]] == ["sub/square.txt"]

    own_cache_only("local")  # bob's server knows nothing of alice's local copy: the hub answers
    bob = server("bob", job_accounts[1])
    hit = bob.submit({**doc, "output": {"path": "from-hub"}}).status()
    assert hit["state"] == "done" and hit["cached_from"] == "hub" and hit["su"] == 0, hit
    assert hit["reason"] == "cached on the hub site, not recomputed"
    assert (area / "from-hub" / "sub" / "square.txt").read_text() == "144"
    mine = Path(hit["result"]["location"])
    assert mine.is_relative_to(area / "jobs" / "bob") and (mine.parent.stat().st_mode & 0o777) == 0o700
    assert bob.computed_by(hit["id"]) is None  # another user's run: not one of bob's jobs
    assert bob.submit({**doc, "output": {"path": "again"}}).status()["cached_from"] == "hub"  # now his own copy

    # A replay is computed again, never answered by the hub's copy.
    own_cache_only("hub")
    replay = bob.submit({**doc, "replay_of": "c" * 64}).status()
    assert replay["cached_from"] is None and replay["state"] in ("running", "staging"), replay

    # The service's copy changed on its disk: not handed out; carol's server computes the result itself.
    own_cache_only("local")
    served = tmp_path / "service" / computed["result_key"] / "sub" / "square.txt"
    served.chmod(0o600)
    served.write_text("999")
    carol = server("carol", job_accounts[1])
    again = carol.submit({**doc, "output": {"path": "carol"}})
    assert again.status()["cached_from"] is None
    assert again.wait(timeout=180).status()["state"] == "done" and (area / "carol" / "sub" / "square.txt").read_text() == "144"
    bob.get(replay["id"]).wait(timeout=180)
