"""The publish gate on real consensus results (the classical detector at two thresholds, and with the CNN
on a tile with a known truth): the score, every reason for a refusal, experts outranking models, an
admin's override in the audit trail, post-publication marks, and a malformed consensus refused whole."""

from __future__ import annotations

import copy

import pytest

from jupyter_vlass.exceptions import InvalidArgument
from jupyter_vlass.models.consensus import Run, aggregate, as_json
from jupyter_vlass.review.gate import evaluate
from jupyter_vlass.review.review import RESTRICTED_ANCESTOR, PublishRefused, Review, followed
from jupyter_vlass.review.votes import UnknownResult
from jupyter_vlass.store import make_engine, session_factory
from tests.models.conftest import BEAM_DEG
from tests.review.test_votes import consensus  # noqa: F401  (the module fixture: two real runs on a tile)

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def review(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'hub.sqlite'}")
    yield Review(session_factory(engine), threshold=0.8)
    engine.dispose()


def test_a_solid_consensus_passes_and_experts_can_sink_it(review, consensus):  # noqa: F811
    review.record(dataset_id="vlass:tile", version="v1", user="alice", consensus=consensus)
    decision = review.check("vlass:tile", "v1")
    candidates = [d for d in review.latest("vlass:tile")["detections"] if d["score"] >= 0.5]
    solid = [d for d in candidates if d["high_confidence"]]
    assert decision.passed and decision.score == pytest.approx(len(solid) / len(candidates), abs=1e-4)
    assert decision.score >= 0.8 and decision.override is None

    # Experts call most high-confidence sources false positives: the same models, now refused.
    result_id = review.latest("vlass:tile")["id"]
    for d in solid[: len(solid) // 2 + 1]:
        for user in ("bob", "carol"):
            review.vote(result_id=result_id, detection=d["detection"], user=user, verdict="false_positive")
    refused = review.gate("vlass:tile", "v1")
    assert not refused.passed and refused.score < 0.8
    assert any("false positive" in r for r in refused.reasons), refused.reasons
    with pytest.raises(PublishRefused) as error:
        review.check("vlass:tile", "v1")
    assert error.value.status == 403 and error.value.reason == "publish_gated" and "false positive" in str(error.value)

    # An admin overrides: recorded with who and why, and the gate now lets it through, saying so.
    allowed = review.override(dataset_id="vlass:tile", version="v1", by="admin",
                              reason="the experts voted on an old calibration; see ticket 42")
    assert allowed.allowed and not allowed.passed and allowed.override["by"] == "admin"
    [entry] = [e for e in review.audit.entries(subject="vlass:tile@v1") if e["action"] == "publish override"]
    assert entry["actor"] == "admin" and "ticket 42" in entry["detail"]["reason"]
    assert review.audit.verify()["entries"] >= 2 + 2 * (len(solid) // 2 + 1)
    with pytest.raises(InvalidArgument):
        review.override(dataset_id="vlass:tile", version="v1", by="admin", reason="  ")

    # A newer consensus of the same version is judged afresh: the override was for the older one.
    review.record(dataset_id="vlass:tile", version="v1", user="alice", consensus=consensus)
    assert review.gate("vlass:tile", "v1").override is None


def test_refusals_name_every_reason(review, consensus):  # noqa: F811
    missing = review.gate("vlass:other", "v1")
    assert not missing.allowed and missing.result_id is None and "no consensus" in missing.reasons[0]
    doc = as_json(consensus)
    single = copy.deepcopy(doc)
    single["summary"]["runs"] = single["summary"]["runs"][:1]
    single["summary"]["failed"] = [{"run": "cnn@slurm", "model": "cnn", "site": "slurm", "reason": "timed out after 1h"}]
    single["summary"]["site_discrepancy"] = {"classical": {"sites": ["local", "slurm"], "fraction": 0.12,
                                                          "compared": 50, "discrepant": 6}}
    decision = evaluate({"id": 1, "summary": single["summary"], "detections": [{**d, "votes": {}} for d in doc["detections"]]},
                        dataset_id="vlass:tile", version="v1", threshold=0.8)
    text = " ".join(decision.reasons)
    assert not decision.passed
    assert "1 run finished" in text and "cnn@slurm failed (timed out after 1h)" in text and "12.0%" in text


def test_a_malformed_consensus_is_refused_and_nothing_is_written(review, consensus):  # noqa: F811
    doc = as_json(consensus)
    for broken in ({**doc, "detections": [{**doc["detections"][0], "dec": 91.0}]},
                   {**doc, "detections": [{"ra": 1.0}]},
                   {**doc, "detections": [{**doc["detections"][0], "score": float("nan")}]},
                   {**doc, "summary": {**doc["summary"], "failed": ["oops"]}},
                   {**doc, "summary": {**doc["summary"], "site_discrepancy": {"m": {"sites": ["a"], "fraction": "x"}}}},
                   {"summary": doc["summary"]}):
        with pytest.raises(InvalidArgument):
            review.record(dataset_id="vlass:tile", version="v1", user="alice", consensus=broken)
    with pytest.raises(UnknownResult):
        review.latest("vlass:tile")
    assert review.audit.verify()["entries"] == 0


def test_marks_follow_what_was_derived(review):
    entries = review.mark(subject="capsule:aaaa", mark="Retracted", explanation="cnn 0.2.0 finds no source there",
                          by="bob", derived=["capsule:bbbb"])
    assert [e["subject"] for e in entries] == ["capsule:aaaa", "capsule:bbbb"]
    [child] = review.marks("capsule:bbbb")
    assert child["mark"] == "Retracted" and child["because"] == "capsule:aaaa" and child["by"] == "bob"
    with pytest.raises(InvalidArgument):
        review.mark(subject="capsule:aaaa", mark="Deleted", explanation="x", by="bob")
    assert review.marks("capsule:cccc") == []


class LineageOf:
    """A registry whose ``ancestors`` answer from a fixed table: ``{pin: [(parent pin, visible)]}``."""

    def __init__(self, parents: dict):
        self.parents = parents

    def ancestors(self, pins):
        found, todo = [], list(pins)
        while todo:
            for parent, seen in self.parents.get(todo.pop(0), []):
                found.append((parent, seen))
                todo.append(parent)
        return found


def test_a_marked_dataset_version_reaches_what_derives_from_it_unnamed_where_hidden(review):
    registry = LineageOf({"tacc:child@v1": [("tacc:parent@v2", True)], "tacc:parent@v2": [("first:secret@v1", False)]})
    review.mark(subject="tacc:parent@v2", mark="Updated", explanation="a newer calibration", by="bob")
    review.mark(subject="first:secret@v1", mark="Retracted", explanation="first:secret@v1 flagged by RFI", by="carol")
    # A capsule that read the child: both marks, the hidden one not named, its explanation not quoted.
    lineage, hidden = followed(["tacc:child@v1"], registry)
    assert lineage == ["tacc:child@v1", "tacc:parent@v2", "first:secret@v1"] and hidden == {"first:secret@v1"}
    updated, retracted = review.marks("capsule:cccc", lineage, hidden=hidden)
    assert (updated["mark"], updated["because"], updated["by"]) == ("Updated", "tacc:parent@v2", "bob")
    assert (retracted["mark"], retracted["because"], retracted["by"]) == ("Retracted", RESTRICTED_ANCESTOR, None)
    assert "secret" not in str(retracted) and "RFI" not in str(retracted)
    # A dataset version as the subject: its own ancestry; a caller granted the parent sees it named.
    lineage, hidden = followed([], LineageOf({"tacc:child@v1": [("first:secret@v1", True)]}), "tacc:child@v1")
    [named] = review.marks("tacc:child@v1", lineage, hidden=hidden)
    assert named["because"] == "first:secret@v1" and named["explanation"] == "first:secret@v1 flagged by RFI"
    assert followed(["capsule:aaaa"], None) == (["capsule:aaaa"], frozenset())
