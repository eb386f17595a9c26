"""Expert validation, hub-wide: consensus results of datasets, one changeable vote per user per detection,
the experts' own consensus, results flagged for review, and the most controversial analyses.

Every change is written to the audit trail in the same transaction as the change itself.
"""

from __future__ import annotations

import math
from collections import Counter

from sqlalchemy import select

from ..exceptions import InvalidArgument, NotFound
from ..models.consensus import as_json
from ..store.consensus_models import ConsensusResultRow, VoteRow
from ..store.session import write
from ..store.times import utcnow
from .audit import AuditTrail

VERDICTS = ("confirmed", "false_positive", "unsure")
CARRY_RADIUS_DEG = 2.5 / 3600  # a consensus recorded without its radius: the VLASS beam
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


def _checked(doc: dict) -> tuple[list[dict], dict]:
    """The detections and summary of a consensus document, or InvalidArgument naming what is wrong."""
    detections, summary = doc.get("detections"), doc.get("summary")
    if not isinstance(detections, list) or not isinstance(summary, dict) or len(detections) > 100_000:
        raise InvalidArgument("consensus: {summary: object, detections: [at most 100000 objects]}")
    kept = []
    for k, d in enumerate(detections):
        try:
            kept.append({"ra": float(d["ra"]), "dec": float(d["dec"]), "agreement": str(d["agreement"])[:8],
                         "score": float(d["score"]), "score_err": float(d["score_err"]),
                         "seen_by": str(d["seen_by"])[:400], "kinds": str(d["kinds"])[:400],
                         "high_confidence": bool(d["high_confidence"])})
        except (KeyError, TypeError, ValueError):
            raise InvalidArgument(f"consensus detection {k}: needs {', '.join(DETECTION_FIELDS)}") from None
        if kept[-1]["agreement"] not in ("agree", "conflict", "single") or not -90 <= kept[-1]["dec"] <= 90 or \
                not all(math.isfinite(kept[-1][f]) for f in ("ra", "score", "score_err")):
            raise InvalidArgument(f"consensus detection {k}: agreement agree|conflict|single, dec in [-90, 90], "
                                  "finite numbers")
    return kept, _checked_summary(summary)


def _checked_summary(summary: dict) -> dict:
    """The parts of a consensus summary the gate reads, in the shapes it reads them."""
    runs, failed = summary.get("runs", []), summary.get("failed", [])
    sites = summary.get("site_discrepancy", {})
    try:
        ok = (isinstance(runs, list) and all(isinstance(r, dict) for r in runs) and isinstance(failed, list)
              and all(isinstance(f.get("run"), str) and isinstance(f.get("reason"), str) for f in failed)
              and isinstance(sites, dict)
              and all(isinstance(v["fraction"], (int, float)) and math.isfinite(v["fraction"])
                      and isinstance(v["sites"], list) and len(v["sites"]) == 2
                      and all(isinstance(x, str) for x in v["sites"]) for v in sites.values()))
    except (AttributeError, KeyError, TypeError, ValueError):
        ok = False
    if not ok:
        raise InvalidArgument("consensus summary: runs [objects], failed [{run, reason}], "
                              "site_discrepancy {model: {sites: [2], fraction}}")
    return summary


class ExpertVotes:
    def __init__(self, sessions, *, review_below: float = 0.7):
        self.sessions, self.audit, self.review_below = sessions, AuditTrail(sessions), review_below

    def record(self, *, dataset_id: str, version: str, user: str, consensus) -> dict:
        """Store a consensus of a dataset version (a :class:`~.consensus.Consensus`, or its
        :func:`~.consensus.as_json`); its detections are numbered."""

        doc = consensus if isinstance(consensus, dict) else as_json(consensus)
        detections, summary = _checked(doc)
        if not isinstance(dataset_id, str) or not dataset_id or len(dataset_id) > 512:
            raise InvalidArgument("dataset_id: a dataset id of at most 512 characters")
        if not isinstance(version, str) or not version or len(version) > 128:
            raise InvalidArgument("version: a version of at most 128 characters")
        def store(session) -> dict:
            previous = session.scalars(select(ConsensusResultRow).where(
                ConsensusResultRow.dataset_id == dataset_id, ConsensusResultRow.version == version)
                .order_by(ConsensusResultRow.id.desc()).limit(1)).first()
            row = ConsensusResultRow(dataset_id=dataset_id, version=version, created_by=user, created_at=utcnow(),
                                     summary=summary, detections=detections)
            session.add(row)
            session.flush()
            self.audit.append(actor=user, action="consensus", subject=f"{dataset_id}@{version}",
                              detail={"result": row.id, "detections": len(detections)}, session=session)
            carried = self._carry_votes(session, previous, row) if previous is not None else 0
            return {"id": row.id, "dataset_id": dataset_id, "version": version, "votes_carried": carried}

        return write(self.sessions, store)

    def _carry_votes(self, session, previous: ConsensusResultRow, row: ConsensusResultRow) -> int:
        """Each vote on ``previous`` (the same dataset version's consensus before ``row``) cast again on the
        detection of ``row`` at the same place (within the aggregation radius), so experts' verdicts outlive a
        newer consensus; the earlier votes stay as they were, and each carried vote is in the audit trail."""
        import astropy.units as u
        from astropy.coordinates import SkyCoord

        votes = session.scalars(select(VoteRow).where(VoteRow.result_id == previous.id)).all()
        if not votes or not row.detections:
            return 0
        radius = ((row.summary.get("parameters") or {}).get("radius_deg") or CARRY_RADIUS_DEG) * u.deg
        new = SkyCoord([d["ra"] for d in row.detections] * u.deg, [d["dec"] for d in row.detections] * u.deg)
        cast = set()
        for vote in votes:
            old = previous.detections[vote.detection]
            index, separation, _ = SkyCoord(old["ra"] * u.deg, old["dec"] * u.deg).match_to_catalog_sky(new)
            if separation > radius or (int(index), vote.user) in cast:
                continue
            cast.add((int(index), vote.user))
            session.add(VoteRow(result_id=row.id, detection=int(index), user=vote.user, verdict=vote.verdict,
                                comment=vote.comment, updated_at=vote.updated_at))
            self.audit.append(actor=vote.user, action="vote carried", subject=f"{row.dataset_id}@{row.version}",
                              detail={"result": row.id, "detection": int(index), "verdict": vote.verdict,
                                      "from": {"result": previous.id, "detection": vote.detection}}, session=session)
        return len(cast)

    def _result(self, session, result_id) -> ConsensusResultRow:
        row = session.get(ConsensusResultRow, result_id) if isinstance(result_id, int) and 0 < result_id < 2 ** 62 \
            else None
        if row is None:
            raise UnknownResult(f"no consensus result {str(result_id)[:40]}")
        return row

    def vote(self, *, result_id: int, detection: int, user: str, verdict: str, comment: str = "") -> dict:
        """Record or change ``user``'s verdict on one detection (never a second vote)."""
        if verdict not in VERDICTS:
            raise InvalidArgument(f"verdict: one of {', '.join(VERDICTS)}")
        if not isinstance(comment, str) or len(comment) > 2000:
            raise InvalidArgument("comment: text of at most 2000 characters")
        def cast(session) -> None:
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

        write(self.sessions, cast)  # concurrent voters (and a user's two tabs) take turns
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

    def latest(self, dataset_id: str, version: str | None = None) -> dict:
        """The newest consensus of ``dataset_id`` (of its ``version`` when given) with every detection's votes."""
        query = select(ConsensusResultRow).where(ConsensusResultRow.dataset_id == dataset_id)
        if version is not None:
            query = query.where(ConsensusResultRow.version == version)
        with self.sessions() as session:
            result = session.scalars(query.order_by(ConsensusResultRow.id.desc()).limit(1)).first()
            if result is None:
                at = f"@{version[:60]}" if version else ""
                raise UnknownResult(f"no consensus of {dataset_id[:200]!r}{at} yet")
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
