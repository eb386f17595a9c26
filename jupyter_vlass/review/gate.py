"""The publish gate: is a consensus solid enough to publish an analysis of its dataset?

The **consensus score** of a result is the fraction of its candidate sources (detections whose consensus
score is at least 0.5: more likely real than not) that are solid: high confidence (every run agrees, and
the lower end of the score's interval is at least 0.5) and not voted a false positive by most experts who
voted, or confirmed by most experts whatever the models said. Experts outrank models; models outrank
nothing.

Publishing is refused, with every reason, when the score is below the threshold, when fewer than two runs
finished (one run is not a consensus), or when a model run at two sites disagrees with itself on more
than ``max_site_discrepancy`` of what it reports with confidence. An admin's override (who and why, in the
audit trail) lets a refused result through; the decision says so.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

DEFAULT_THRESHOLD = 0.8
MAX_SITE_DISCREPANCY = 0.05


@dataclass
class GateDecision:
    dataset_id: str
    version: str
    result_id: int | None
    score: float
    threshold: float
    passed: bool
    reasons: list[str] = field(default_factory=list)
    override: dict | None = None

    @property
    def allowed(self) -> bool:
        return self.passed or self.override is not None

    def to_json(self) -> dict:
        return {**asdict(self), "allowed": self.allowed}

    def explain(self) -> str:
        head = f"consensus score {self.score:.2f} of {self.dataset_id}@{self.version} (threshold {self.threshold:.2f})"
        return "; ".join([head, *self.reasons])


def _experts(detection: dict) -> str | None:
    votes = detection.get("votes") or {}
    confirmed, false = votes.get("confirmed", 0), votes.get("false_positive", 0)
    if confirmed > false:
        return "confirmed"
    if false > confirmed:
        return "false_positive"
    return None


def evaluate(result: dict | None, *, dataset_id: str, version: str, threshold: float = DEFAULT_THRESHOLD,
             max_site_discrepancy: float = MAX_SITE_DISCREPANCY, override: dict | None = None) -> GateDecision:
    """The gate's decision on ``result`` (a consensus with its votes, as ``ExpertVotes.latest`` gives it;
    None when the dataset has none)."""
    if result is None:
        return GateDecision(dataset_id, version, None, 0.0, threshold, False,
                            ["no consensus of this dataset version yet: run a second model or site and record "
                             "their consensus"], override)
    candidates = [d for d in result["detections"] if d["score"] >= 0.5]
    doubted = {"conflict": 0, "single": 0, "uncertain": 0, "false_positive": 0}
    solid = 0
    for d in candidates:
        verdict = _experts(d)
        if verdict == "confirmed" or (d["high_confidence"] and verdict != "false_positive"):
            solid += 1
        elif verdict == "false_positive":
            doubted["false_positive"] += 1
        elif d["agreement"] in ("conflict", "single"):
            doubted[d["agreement"]] += 1
        else:
            doubted["uncertain"] += 1
    score = solid / len(candidates) if candidates else 0.0
    reasons = []
    if not candidates:
        reasons.append("the consensus has no candidate sources")
    elif score < threshold:
        why = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in doubted.items() if n)
        reasons.append(f"{len(candidates) - solid} of {len(candidates)} candidate sources are not solid ({why})")
    summary = result.get("summary") or {}
    finished = summary.get("runs") or []
    if len(finished) < 2:
        reasons.append(f"{len(finished)} run finished: a consensus needs two models or two sites")
    for failed in summary.get("failed") or []:
        reasons.append(f"run {failed['run']} failed ({str(failed['reason'])[:200]}) and was left out")
    for model, found in (summary.get("site_discrepancy") or {}).items():
        if found["fraction"] > max_site_discrepancy:
            reasons.append(f"{model} disagrees between {' and '.join(found['sites'])} on "
                           f"{found['fraction']:.1%} of its confident detections (at most {max_site_discrepancy:.0%})")
    blocking = [r for r in reasons if not r.startswith("run ")]  # a failed run is said, the others still count
    return GateDecision(dataset_id, version, result["id"], round(score, 4), threshold, not blocking, reasons, override)
