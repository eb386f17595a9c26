"""Expert validation, hub-wide: consensus results of datasets, one changeable vote per user per detection,
the experts' own consensus, results flagged for review, and the most controversial analyses.

Every change is written to the audit trail in the same transaction as the change itself.
"""

from __future__ import annotations

import math
from collections import Counter

from sqlalchemy import select

from ..exceptions import InvalidArgument, NotFound
from ..store.consensus_models import ConsensusResultRow, VoteRow
from ..store.times import utcnow
from .audit import AuditTrail

VERDICTS = ("confirmed", "false_positive", "unsure")
DETECTION_FIELDS = ("ra", "dec", "agreement", "score", "score_err", "seen_by", "kinds", "high_confidence")


class UnknownResult(NotFound):
    reason = "unknown_consensus"


class UnknownDetection(NotFound):
    reason = "unknown_detection"


def _entropy(counts: Counter) -> float:
    total = sum(counts[v] for v in ("confirmed", "false_positive"))
    if total < 2:
        return 0.0
    p = [counts[v] / total for v in ("confirmed", "false_positive") if counts[v]]
    return -sum(x * math.log2(x) for x in p)


class ExpertVotes:
    def __init__(self, sessions, *, review_below: float = 0.7):
        self.sessions, self.audit, self.review_below = sessions, AuditTrail(sessions), review_below

    def record(self, *, dataset_id: str, version: str, user: str, consensus) -> dict:
        """Store a consensus (a :class:`~.consensus.Consensus`) of a dataset version; its detections are numbered."""
        table = consensus.table
        detections = [{k: (bool(row[k]) if k == "high_confidence" else row[k].item() if hasattr(row[k], "item")
                           else row[k]) for k in DETECTION_FIELDS} for row in table]
        with self.sessions.begin() as session:
            row = ConsensusResultRow(dataset_id=dataset_id, version=version, created_by=user, created_at=utcnow(),
                                     summary=consensus.summary(), detections=detections)
            session.add(row)
            session.flush()
            self.audit.append(actor=user, action="consensus", subject=f"{dataset_id}@{version}",
                              detail={"result": row.id, "detections": len(detections)}, session=session)
            return {"id": row.id, "dataset_id": dataset_id, "version": version}

    def _result(self, session, result_id) -> ConsensusResultRow:
        row = session.get(ConsensusResultRow, result_id) if isinstance(result_id, int) else None
        if row is None:
            raise UnknownResult(f"no consensus result {str(result_id)[:40]}")
        return row

    def vote(self, *, result_id: int, detection: int, user: str, verdict: str, comment: str = "") -> dict:
        """Record or change ``user``'s verdict on one detection (never a second vote)."""
        if verdict not in VERDICTS:
            raise InvalidArgument(f"verdict: one of {', '.join(VERDICTS)}")
        if not isinstance(comment, str) or len(comment) > 2000:
            raise InvalidArgument("comment: text of at most 2000 characters")
        with self.sessions.begin() as session:
            result = self._result(session, result_id)
            if not isinstance(detection, int) or not 0 <= detection < len(result.detections):
                raise UnknownDetection(f"consensus {result_id} has no detection {str(detection)[:20]}")
            row = session.get(VoteRow, (result_id, detection, user))
            action = "vote" if row is None else "vote changed"
            if row is None:
                row = VoteRow(result_id=result_id, detection=detection, user=user)
                session.add(row)
            row.verdict, row.comment, row.updated_at = verdict, comment, utcnow()
            self.audit.append(actor=user, action=action, subject=f"{result.dataset_id}@{result.version}",
                              detail={"result": result_id, "detection": detection, "verdict": verdict},
                              session=session)
        return self.detection(result_id, detection)

    def _tallies(self, session, result_id: int) -> dict[int, Counter]:
        tallies: dict[int, Counter] = {}
        for vote in session.scalars(select(VoteRow).where(VoteRow.result_id == result_id)):
            tallies.setdefault(vote.detection, Counter())[vote.verdict] += 1
        return tallies

    def _doc(self, detection: dict, number: int, votes: Counter) -> dict:
        decided = votes["confirmed"] + votes["false_positive"]
        agreement = max(votes["confirmed"], votes["false_positive"]) / decided if decided else None
        return {"detection": number, **detection, "votes": {v: votes[v] for v in VERDICTS},
                "expert_agreement": agreement,
                "needs_review": (agreement is not None and agreement < self.review_below) or
                                (detection["agreement"] != "agree")}

    def detection(self, result_id: int, detection: int) -> dict:
        with self.sessions() as session:
            result = self._result(session, result_id)
            votes = self._tallies(session, result_id).get(detection, Counter())
            return self._doc(result.detections[detection], detection, votes)

    def latest(self, dataset_id: str) -> dict:
        """The newest consensus of ``dataset_id`` with every detection's votes."""
        with self.sessions() as session:
            result = session.scalars(select(ConsensusResultRow).where(ConsensusResultRow.dataset_id == dataset_id)
                                     .order_by(ConsensusResultRow.id.desc()).limit(1)).first()
            if result is None:
                raise UnknownResult(f"no consensus of {dataset_id[:200]!r} yet")
            tallies = self._tallies(session, result.id)
            detections = [self._doc(d, k, tallies.get(k, Counter())) for k, d in enumerate(result.detections)]
            return {"id": result.id, "dataset_id": result.dataset_id, "version": result.version,
                    "created_by": result.created_by, "created_at": result.created_at.isoformat() + "Z",
                    "summary": result.summary, "detections": detections,
                    "flagged_for_review": sum(d["needs_review"] for d in detections)}

    def controversial(self, limit: int = 10) -> list[dict]:
        """Consensus results by expert disagreement (mean entropy of confirmed/false-positive over voted detections)."""
        ranked = []
        with self.sessions() as session:
            for result in session.scalars(select(ConsensusResultRow)):
                tallies = self._tallies(session, result.id)
                scores = [_entropy(t) for t in tallies.values()]
                if scores:
                    ranked.append({"id": result.id, "dataset_id": result.dataset_id, "version": result.version,
                                   "disagreement": round(sum(scores) / len(scores), 4), "voted": len(scores)})
        return sorted(ranked, key=lambda r: -r["disagreement"])[:limit]
