"""Expert votes on a real consensus (two models on a tile with a known truth), hub-wide state on SQLite and
PostgreSQL: one changeable vote per user per detection, the experts' agreement, review flags, the most
controversial analyses; every change in a hash-chained audit trail whose tampering is detected and located."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from jupyter_vlass.exceptions import InvalidArgument
from jupyter_vlass.review.audit import AuditBroken, AuditTrail
from jupyter_vlass.models.classical import ClassicalDetector
from jupyter_vlass.models.consensus import Run, aggregate
from jupyter_vlass.models.images import open_image
from jupyter_vlass.models.synthetic import make_tile, write_tile
from jupyter_vlass.review.votes import ExpertVotes, UnknownDetection, UnknownResult
from jupyter_vlass.store import make_engine, session_factory
from jupyter_vlass.store.consensus_models import AuditEntryRow
from tests.models.conftest import BEAM_DEG

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def consensus(real, tmp_path_factory):
    image, header, _, _ = make_tile(real["racs_components"], ra=209.25, dec=-18.0, pixels=1024, seed=5)
    path = tmp_path_factory.mktemp("votes") / "tile.fits"
    write_tile(path, image, header)
    tile = open_image(path)
    return aggregate([Run("classical", "1.0.0", "local", ClassicalDetector().detect(tile)),
                      Run("classical-7sigma", "1.0.0", "slurm", ClassicalDetector(threshold=7.0).detect(tile))],
                     radius_deg=BEAM_DEG)


@pytest.fixture(params=["sqlite", "postgresql"])
def sessions(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'hub.sqlite'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    yield session_factory(engine)
    engine.dispose()


def test_votes_are_one_per_user_changeable_and_audited(consensus, sessions):
    votes = ExpertVotes(sessions)
    result = votes.record(dataset_id="vlass:tile", version="v1", user="alice", consensus=consensus)
    for user in ("bob", "carol", "dave"):
        votes.vote(result_id=result["id"], detection=0, user=user, verdict="confirmed")
    changed = votes.vote(result_id=result["id"], detection=0, user="dave", verdict="false_positive",
                         comment="a sidelobe of the bright source to the east")
    assert changed["votes"] == {"confirmed": 2, "false_positive": 1, "unsure": 0}  # an update, not a fourth vote
    assert changed["expert_agreement"] == pytest.approx(2 / 3) and changed["needs_review"]
    for user in ("bob", "carol"):
        votes.vote(result_id=result["id"], detection=1, user=user, verdict="confirmed")
    latest = votes.latest("vlass:tile")
    assert latest["id"] == result["id"] and latest["detections"][1]["expert_agreement"] == 1.0
    assert latest["summary"]["detections"] == len(consensus.table) == len(latest["detections"])
    [top] = votes.controversial()
    assert top["id"] == result["id"] and 0 < top["disagreement"] < 1 and top["voted"] == 2

    with pytest.raises(UnknownDetection):
        votes.vote(result_id=result["id"], detection=len(consensus.table), user="bob", verdict="confirmed")
    with pytest.raises(UnknownResult):
        votes.vote(result_id=result["id"] + 99, detection=0, user="bob", verdict="confirmed")
    with pytest.raises(InvalidArgument):
        votes.vote(result_id=result["id"], detection=0, user="bob", verdict="maybe")

    trail = AuditTrail(sessions)
    actions = [e["action"] for e in trail.entries()]
    assert actions == ["consensus", "vote", "vote", "vote", "vote changed", "vote", "vote"]
    assert trail.verify()["entries"] == 7
    with sessions.begin() as session:  # someone edits history: dave's change never happened
        session.execute(update(AuditEntryRow).where(AuditEntryRow.seq == 5)
                        .values(detail={"result": result["id"], "detection": 0, "verdict": "confirmed"}))
    with pytest.raises(AuditBroken, match="entry 5 .*was changed"):
        trail.verify()


def test_concurrent_votes_are_all_kept_and_chained(consensus, sessions):
    """Twelve experts voting at once on SQLite (the demo hub's default) and PostgreSQL, each twice on the same
    detection from two threads: every vote is kept exactly once, none fails, and the audit chain verifies."""
    from concurrent.futures import ThreadPoolExecutor

    votes = ExpertVotes(sessions)
    result = votes.record(dataset_id="vlass:tile", version="v1", user="alice", consensus=consensus)
    users = [f"expert{k}" for k in range(12)]

    def cast(user: str, verdict: str) -> dict:
        return votes.vote(result_id=result["id"], detection=0, user=user, verdict=verdict)

    with ThreadPoolExecutor(max_workers=8) as pool:
        done = list(pool.map(cast, users * 2, ["confirmed"] * 12 + ["false_positive"] * 12))
    assert len(done) == 24
    final = votes.detection(result["id"], 0)["votes"]
    assert sum(final.values()) == 12, final  # one vote per expert, whichever of their two came last
    trail = AuditTrail(sessions).verify()
    assert trail["entries"] == 1 + 24  # the consensus, then every vote and change
