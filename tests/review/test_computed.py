"""The consensus as the hub service computes it: from the detection tables of the caller's own recorded jobs,
read from the bytes it checked against their sha256 when the jobs ended; never from a client's document.
Expert votes outlive a newer consensus of the same dataset version."""

from __future__ import annotations

import base64
import hashlib
import io

import pytest
from astropy.table import Table

from jupyter_vlass.exceptions import InvalidArgument
from jupyter_vlass.jobs.job_records import JobRecords, UnrecordedOutput
from jupyter_vlass.models.classical import ClassicalDetector
from jupyter_vlass.models.consensus import Run, aggregate, as_json
from jupyter_vlass.models.images import open_image
from jupyter_vlass.models.synthetic import make_tile, write_tile
from jupyter_vlass.review.computed import NoRecordedRun
from jupyter_vlass.review.review import Review
from jupyter_vlass.store import make_engine, session_factory
from tests.models.conftest import BEAM_DEG

pytestmark = pytest.mark.timeout(300)
TILE, VERSION = "vlass:tile", "v1"


@pytest.fixture(scope="module")
def tables(real, tmp_path_factory):
    """Two detection tables of one tile (synthesized from the real RACS catalogue), as detect-sources writes them."""
    image, header, _, _ = make_tile(real["racs_components"], ra=209.25, dec=-18.0, pixels=1024, seed=5)
    path = tmp_path_factory.mktemp("computed") / "tile.fits"
    write_tile(path, image, header)
    tile = open_image(path)
    found = {}
    for site, threshold in (("local", 5.0), ("slurm", 7.0)):
        table = ClassicalDetector(threshold=threshold).detect(tile)
        table["dataset"] = TILE
        table.meta = {"model": "classical", "version": "1.0.0"}
        out = io.StringIO()
        table.write(out, format="ascii.ecsv")
        found[site] = out.getvalue().encode()
    return found


@pytest.fixture
def review(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'hub.sqlite'}")
    yield Review(session_factory(engine), threshold=0.8)
    engine.dispose()


def _job(job_id, site, *, dataset=TILE):
    return {"job_id": job_id, "site": site, "notebook": "detect-sources.ipynb", "inputs": [[dataset, VERSION]],
            "parameters": {"model": "classical"}}


def _ended(job, content: bytes | None, *, state="done", evidence=True, **extra):
    outputs = {"detections.ecsv": hashlib.sha256(content).hexdigest()} if content is not None else {}
    sent = {"detections.ecsv": base64.b64encode(content).decode()} if content is not None and evidence else {}
    return {**job, "state": state, "outputs": outputs, "evidence": sent, **extra}


def _run_both(records: JobRecords, tables, user="alice"):
    for site in ("local", "slurm"):
        job = _job(f"j{site}.1", site)
        records.authorized(user=user, project=user, body=job)
        records.ended(user=user, project=user, body=_ended(job, tables[site]))


def test_the_consensus_is_computed_from_the_recorded_tables(review, tables):
    _run_both(review.jobs, tables)
    recorded = review.record_runs(dataset_id=TILE, version=VERSION, user="alice",
                                  runs=["classical@local", "classical@slurm"], parameters={"radius_deg": BEAM_DEG})
    latest = review.latest(TILE, VERSION)
    # What the client would compute from the same tables, read from the job's own bytes.
    runs = [Run("classical", "1.0.0", site, Table.read(io.BytesIO(tables[site]), format="ascii.ecsv"))
            for site in ("local", "slurm")]
    expected = as_json(aggregate(runs, radius_deg=BEAM_DEG))
    assert latest["id"] == recorded["id"] and len(latest["detections"]) == len(expected["detections"]) > 10
    assert [(d["ra"], d["agreement"]) for d in latest["detections"]] == \
        [(pytest.approx(d["ra"]), d["agreement"]) for d in expected["detections"]]
    assert [r["run"] for r in latest["summary"]["runs"]] == ["classical@local", "classical@slurm"]
    assert [r["outputs"]["detections.ecsv"] for r in latest["summary"]["runs"]] == \
        [hashlib.sha256(tables[site]).hexdigest() for site in ("local", "slurm")]
    assert latest["summary"]["parameters"]["radius_deg"] == BEAM_DEG


def test_only_the_callers_recorded_runs_count_and_a_document_is_never_taken(review, tables):
    _run_both(review.jobs, tables, user="alice")
    for user, runs, error in (("bob", ["classical@local"], NoRecordedRun),  # alice's runs are not bob's
                              ("alice", ["cnn@local"], NoRecordedRun),  # no such run
                              ("alice", [], InvalidArgument), ("alice", ["no-site"], InvalidArgument)):
        with pytest.raises(error):
            review.record_runs(dataset_id=TILE, version=VERSION, user=user, runs=runs,
                               parameters={"radius_deg": BEAM_DEG})
    for parameters in ({}, {"radius_deg": 10.0}, {"radius_deg": BEAM_DEG, "sigmas": "2"},
                       {"radius_deg": BEAM_DEG, "extra": 1}):
        with pytest.raises(InvalidArgument):
            review.record_runs(dataset_id=TILE, version=VERSION, user="alice", runs=["classical@local"],
                               parameters=parameters)
    # Another dataset version read by the same jobs: nothing recorded for it.
    with pytest.raises(NoRecordedRun):
        review.record_runs(dataset_id=TILE, version="v2", user="alice", runs=["classical@local"],
                           parameters={"radius_deg": BEAM_DEG})


def test_evidence_must_be_the_bytes_its_sha256_names_and_is_recorded_once(review, tables):
    records = review.jobs
    job = _job("jlocal.1", "local")
    records.authorized(user="alice", project="alice", body=job)
    forged = _ended(job, tables["local"])
    forged["evidence"]["detections.ecsv"] = base64.b64encode(tables["slurm"]).decode()
    with pytest.raises(InvalidArgument, match="sha256"):
        records.ended(user="alice", project="alice", body=forged)
    assert records.latest(user="alice", dataset_id=TILE, version=VERSION) == []  # nothing half-written
    records.ended(user="alice", project="alice", body=_ended(job, tables["local"]))
    records.ended(user="alice", project="alice", body=_ended(job, tables["slurm"]))  # a second report: ignored
    [ended] = records.latest(user="alice", dataset_id=TILE, version=VERSION)
    assert ended.outputs["detections.ecsv"] == hashlib.sha256(tables["local"]).hexdigest()


def test_an_unauthorized_job_brings_no_evidence_of_its_own(review, tables):
    records = review.jobs
    # Reported without the service ever authorizing it: recorded, but its bytes are not kept.
    records.ended(user="mallory", project=None, body=_ended(_job("jlocal.1", "local"), tables["slurm"]))
    with pytest.raises(UnrecordedOutput):
        review.record_runs(dataset_id=TILE, version=VERSION, user="mallory", runs=["classical@local"],
                           parameters={"radius_deg": BEAM_DEG})
    # Answered by the result cache from alice's authorized job: the same bytes, so it counts.
    _run_both(records, tables, user="alice")
    records.ended(user="carol", project=None, body=_ended(_job("jcache.1", "slurm"), tables["slurm"],
                                                          evidence=False, cached=True))
    recorded = review.record_runs(dataset_id=TILE, version=VERSION, user="carol", runs=["classical@slurm"],
                                  parameters={"radius_deg": BEAM_DEG})
    assert review.latest(TILE, VERSION)["id"] == recorded["id"]


def test_a_failed_run_is_named_with_the_reason_its_job_ended_with(review, tables):
    records = review.jobs
    records.authorized(user="alice", project="alice", body=_job("jlocal.1", "local"))
    records.ended(user="alice", project="alice", body=_ended(_job("jlocal.1", "local"), tables["local"]))
    records.authorized(user="alice", project="alice", body=_job("jslurm.1", "slurm"))
    records.ended(user="alice", project="alice", body=_ended(_job("jslurm.1", "slurm"), None, state="failed",
                                                              reason="cell 2: CUDA out of memory"))
    review.record_runs(dataset_id=TILE, version=VERSION, user="alice", runs=["classical@local", "classical@slurm"],
                       parameters={"radius_deg": BEAM_DEG})
    summary = review.latest(TILE, VERSION)["summary"]
    assert [r["run"] for r in summary["runs"]] == ["classical@local"]
    assert summary["failed"] == [{"run": "classical@slurm", "model": "classical", "site": "slurm",
                                  "reason": "cell 2: CUDA out of memory", "job": "jslurm.1", "outputs": {}}]


def test_votes_outlive_a_newer_consensus_of_the_same_version(review, tables):
    _run_both(review.jobs, tables)
    first = review.record_runs(dataset_id=TILE, version=VERSION, user="alice",
                               runs=["classical@local", "classical@slurm"], parameters={"radius_deg": BEAM_DEG})
    review.vote(result_id=first["id"], detection=3, user="carol", verdict="false_positive", comment="a sidelobe")
    review.vote(result_id=first["id"], detection=5, user="dave", verdict="confirmed")
    old = review.latest(TILE, VERSION)["detections"]
    second = review.record_runs(dataset_id=TILE, version=VERSION, user="alice", runs=["classical@local"],
                                parameters={"radius_deg": BEAM_DEG})
    assert second["id"] != first["id"] and second["votes_carried"] == 2
    new = review.latest(TILE, VERSION)["detections"]
    for number, verdict in ((3, "false_positive"), (5, "confirmed")):
        [moved] = [d for d in new if d["votes"][verdict] == 1]
        assert abs(moved["ra"] - old[number]["ra"]) < BEAM_DEG and abs(moved["dec"] - old[number]["dec"]) < BEAM_DEG
    # The first result keeps its own votes; each carried vote is in the audit trail, naming where it came from.
    assert review.votes.detection(first["id"], 3)["votes"]["false_positive"] == 1
    carried = [e for e in review.audit_entries(f"{TILE}@{VERSION}") if e["action"] == "vote carried"]
    assert sorted(e["detail"]["from"]["detection"] for e in carried) == [3, 5]
    assert review.audit_verify()["entries"] >= 5
