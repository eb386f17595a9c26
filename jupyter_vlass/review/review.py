"""Hub-wide review of analyses: consensus results, expert votes, the publish gate with its audited admin
overrides, and post-publication marks ("Updated", "Retracted") that follow lineage.

:class:`Review` holds the state in a database (the hub service's, PostgreSQL in a deployment; a user's own
outside a hub). :class:`HubReview` is the same interface over the hub service's REST API, used by a
user's server and CLI under a hub. :func:`review` picks one. Overrides and marks are audit-trail entries,
so who did it and why is hash-chained with everything else.
"""

from __future__ import annotations

import os
from urllib.parse import quote

from ..exceptions import Forbidden, InvalidArgument
from ..hub_client import HubServiceClient, service_from_environment
from ..jobs.job_records import JobRecords
from ..jobs.manifest import check_grant
from ..models.consensus import as_json
from ..store import make_engine, session_factory
from . import computed
from .audit import AuditTrail
from .gate import DEFAULT_THRESHOLD, GateDecision, evaluate
from .votes import ExpertVotes, UnknownResult

MARKS = ("Updated", "Retracted")
THRESHOLD_ENV = "JUPYTER_VLASS_PUBLISH_THRESHOLD"


class PublishRefused(Forbidden):
    reason = "publish_gated"


def _text(value, what: str, limit: int = 2000) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise InvalidArgument(f"{what}: text of 1 to {limit} characters")
    return value.strip()


def threshold_from_environment() -> float:
    try:
        return float(os.environ.get(THRESHOLD_ENV, DEFAULT_THRESHOLD))
    except ValueError:
        raise InvalidArgument(f"{THRESHOLD_ENV}: a number between 0 and 1") from None


class Review:
    def __init__(self, sessions, *, threshold: float | None = None):
        self.votes, self.audit, self.jobs = ExpertVotes(sessions), AuditTrail(sessions), JobRecords(sessions)
        self.threshold = threshold_from_environment() if threshold is None else threshold

    # --- consensus and votes -------------------------------------------------------------------
    def record(self, *, dataset_id: str, version: str, user: str, consensus) -> dict:
        return self.votes.record(dataset_id=dataset_id, version=version, user=user, consensus=consensus)

    def record_runs(self, *, dataset_id: str, version: str, user: str, runs: object, parameters: object) -> dict:
        """Compute and store the consensus of ``user``'s recorded jobs ``runs`` (``["model@site", ...]``) on
        ``dataset_id@version`` (what the hub service does: it takes no consensus from a client)."""
        if not isinstance(dataset_id, str) or not isinstance(version, str):
            raise InvalidArgument("dataset_id and version: text")
        consensus = computed.compute(self.jobs, user=user, dataset_id=dataset_id, version=version, runs=runs,
                                     parameters=parameters)
        return self.record(dataset_id=dataset_id, version=version, user=user, consensus=consensus)

    def latest(self, dataset_id: str, version: str | None = None) -> dict:
        return self.votes.latest(dataset_id, version)

    def vote(self, *, result_id: int, detection: int, user: str, verdict: str, comment: str = "") -> dict:
        return self.votes.vote(result_id=result_id, detection=detection, user=user, verdict=verdict, comment=comment)

    def controversial(self, limit: int = 10) -> list[dict]:
        return self.votes.controversial(limit)

    # --- the gate -------------------------------------------------------------------------------
    def gate(self, dataset_id: str, version: str) -> GateDecision:
        try:
            result = self.latest(dataset_id, version)
        except UnknownResult:
            result = None
        override = None
        if result is not None:
            for entry in self.audit.entries(subject=f"{dataset_id}@{version}"):
                if entry["action"] == "publish override" and entry["detail"].get("result") == result["id"]:
                    override = {"by": entry["actor"], "reason": entry["detail"]["reason"], "at": entry["at"],
                                "audit_entry": entry["seq"]}
        return evaluate(result, dataset_id=dataset_id, version=version, threshold=self.threshold, override=override)

    def override(self, *, dataset_id: str, version: str, by: str, reason: str) -> GateDecision:
        """An admin lets the latest consensus of ``dataset_id@version`` through the gate (the caller checks
        that ``by`` is an admin); recorded with who and why."""
        reason = _text(reason, "reason")
        decision = self.gate(dataset_id, version)
        if decision.result_id is None:
            raise UnknownResult(f"no consensus of {dataset_id[:200]!r}@{version[:60]} to override")
        self.audit.append(actor=by, action="publish override", subject=f"{dataset_id}@{version}",
                          detail={"result": decision.result_id, "reason": reason, "score": decision.score})
        return self.gate(dataset_id, version)

    def check(self, dataset_id: str, version: str) -> GateDecision:
        """The gate's decision, or :class:`PublishRefused` with every reason."""
        decision = self.gate(dataset_id, version)
        if not decision.allowed:
            raise PublishRefused("publishing refused: " + decision.explain())
        return decision

    # --- post-publication marks --------------------------------------------------------------------
    def mark(self, *, subject: str, mark: str, explanation: str, by: str, derived: list[str] = ()) -> list[dict]:
        """Mark a published result ``subject`` (``capsule:<id>`` or ``dataset@version``) Updated or Retracted,
        and everything ``derived`` from it (the caller walks the lineage) with a pointer back."""
        if mark not in MARKS:
            raise InvalidArgument(f"mark: one of {', '.join(MARKS)}")
        explanation = _text(explanation, "explanation")
        if not isinstance(subject, str) or not 0 < len(subject) <= 512:
            raise InvalidArgument("subject: a capsule or dataset version of at most 512 characters")
        entries = [self.audit.append(actor=by, action="mark", subject=subject,
                                     detail={"mark": mark, "explanation": explanation})]
        for other in derived:
            entries.append(self.audit.append(actor=by, action="mark", subject=other,
                                             detail={"mark": mark, "explanation": explanation, "because": subject}))
        return entries

    def mark_index(self) -> dict[str, list[dict]]:
        """Every mark entry of the audit trail by its subject, read at once (for :meth:`marks` over many subjects,
        as the gallery asks)."""
        index: dict[str, list[dict]] = {}
        for entry in self.audit.entries(action="mark"):
            index.setdefault(entry["subject"], []).append(entry)
        return index

    def marks(self, subject: str, inherited: list[str] = (), *, hidden: frozenset[str] = frozenset(),
              index: dict[str, list[dict]] | None = None) -> list[dict]:
        """The marks of ``subject``, and those of what it derives from (``inherited``: its lineage, such as
        :meth:`~jupyter_vlass.reproducibility.store.CapsuleStore.lineage`, with :func:`followed`'s dataset
        ancestry), each with ``because`` naming where it was made; one made on a subject in ``hidden`` (a
        dataset the caller may not see) is told without naming it or quoting its explanation. ``index``:
        :meth:`mark_index`'s answer, instead of a query per subject."""
        entries = index.get(subject, []) if index is not None else self.audit.entries(subject=subject)
        own = [{"mark": e["detail"]["mark"], "explanation": e["detail"]["explanation"], "by": e["actor"],
                "at": e["at"], "because": e["detail"].get("because"), "audit_entry": e["seq"]}
               for e in entries if e["action"] == "mark"]
        seen = {m["audit_entry"] for m in own}
        for ancestor in inherited:
            for mark in self.marks(ancestor, index=index):
                if mark["audit_entry"] not in seen:
                    seen.add(mark["audit_entry"])
                    if ancestor in hidden:
                        mark = {**mark, "because": RESTRICTED_ANCESTOR, "by": None,
                                "explanation": f"a restricted dataset this derives from is marked {mark['mark']}"}
                    own.append({**mark, "because": mark["because"] or ancestor})
        return own

    # --- grants added after publication --------------------------------------------------------------
    def add_funding(self, *, capsule_id: str, grant: object, by: str) -> dict:
        """Record that the analysis ``capsule_id`` was done under ``grant`` too (its author says so after
        publishing; the capsule's signed files stay as they were): an audit entry."""
        return self.audit.append(actor=by, action="funding", subject=f"capsule:{capsule_id}",
                                 detail=check_grant(grant))

    def funding_index(self) -> dict[str, list[dict]]:
        """The grants added to each capsule after publication (:meth:`add_funding`), by capsule id, oldest first."""
        index: dict[str, list[dict]] = {}
        for entry in self.audit.entries(action="funding"):
            index.setdefault(entry["subject"].removeprefix("capsule:"), []).append(dict(entry["detail"]))
        return index

    # --- the audit trail ----------------------------------------------------------------------------
    def audit_entries(self, subject: str | None = None) -> list[dict]:
        return self.audit.entries(subject=subject)

    def audit_verify(self) -> dict:
        return self.audit.verify()


RESTRICTED_ANCESTOR = "restricted"  # ``because`` of a mark made on a dataset the caller may not see


def followed(lineage, registry, subject: str | None = None) -> tuple[list[str], frozenset[str]]:
    """``lineage`` (capsules ``capsule:<id>`` and dataset versions ``<id>@<version>``) with every dataset version
    those, and ``subject`` when it is one, derive from in ``registry`` (None: none followed); and which of them
    the registry's caller may not see."""
    pins = [p for p in ([subject] if subject else []) + list(lineage) if "@" in p and not p.startswith("capsule:")]
    if registry is None or not pins:
        return list(lineage), frozenset()
    ancestry = registry.ancestors(pins)
    known = set(lineage)
    return list(lineage) + [p for p, _ in ancestry if p not in known], frozenset(p for p, seen in ancestry if not seen)


class HubReview:
    """:class:`Review` through the hub service (``client``: a :class:`~jupyter_vlass.hub_client.HubServiceClient`)."""

    def __init__(self, client):
        self.client = client

    def record(self, *, dataset_id: str, version: str, user: str | None = None, consensus) -> dict:
        """The service computes the consensus itself from the recorded outputs of the runs ``consensus``
        aggregated (this user's jobs on ``dataset_id@version``), with the same parameters."""
        summary = (consensus if isinstance(consensus, dict) else as_json(consensus))["summary"]
        runs = [r["run"] for r in summary.get("runs", []) + summary.get("failed", [])]
        return self.client.request("POST", "api/consensus", {"dataset_id": dataset_id, "version": version,
                                                             "runs": runs, "parameters": summary.get("parameters")})

    def latest(self, dataset_id: str, version: str | None = None) -> dict:
        query = f"?version={quote(version, safe='')}" if version else ""
        return self.client.request("GET", f"api/consensus/{quote(dataset_id, safe='')}{query}")

    def vote(self, *, result_id: int, detection: int, user: str | None = None, verdict: str, comment: str = "") -> dict:
        return self.client.request("POST", f"api/consensus/results/{int(result_id)}/votes",
                                   {"detection": detection, "verdict": verdict, "comment": comment})

    def controversial(self, limit: int = 10) -> list[dict]:
        return self.client.request("GET", f"api/controversial?limit={int(limit)}")["analyses"]

    def gate(self, dataset_id: str, version: str) -> GateDecision:
        doc = self.client.request("GET", f"api/gate?dataset_id={quote(dataset_id, safe='')}&version={quote(version, safe='')}")
        doc.pop("allowed", None)
        return GateDecision(**doc)

    def check(self, dataset_id: str, version: str) -> GateDecision:
        decision = self.gate(dataset_id, version)
        if not decision.allowed:
            raise PublishRefused("publishing refused: " + decision.explain())
        return decision

    def override(self, *, dataset_id: str, version: str, by: str | None = None, reason: str) -> GateDecision:
        doc = self.client.request("POST", "api/gate/overrides", {"dataset_id": dataset_id, "version": version,
                                                                  "reason": reason})
        doc.pop("allowed", None)
        return GateDecision(**doc)

    def audit_entries(self, subject: str | None = None) -> list[dict]:
        query = f"?subject={quote(subject, safe='')}" if subject else ""
        return self.client.request("GET", f"api/audit{query}")["entries"]

    def audit_verify(self) -> dict:
        return self.client.request("GET", "api/audit/verify")

    def mark(self, *, subject: str, mark: str, explanation: str, by: str | None = None, derived=()) -> list[dict]:
        """The service follows the lineage itself (every user's derived capsules): ``derived`` is not sent."""
        return self.client.request("POST", "api/marks", {"subject": subject, "mark": mark,
                                                         "explanation": explanation})["entries"]

    def marks(self, subject: str, inherited=(), *, hidden=frozenset()) -> list[dict]:
        """The service follows the lineage in the hub's store and registry itself: ``inherited`` and ``hidden``
        are not needed."""
        return self.client.request("GET", f"api/marks?subject={quote(subject, safe='')}")["marks"]


def review(sessions=None):
    """The hub service's review under a hub; else one over ``sessions`` (default: the data directory's database)."""
    found = service_from_environment()
    if found:
        return HubReview(HubServiceClient(found[0], token=found[1]))
    if sessions is None:

        sessions = session_factory(make_engine())
    return Review(sessions)
