"""The hub service's review API and page: consensus results, expert votes, the publish gate and its admin
overrides, post-publication marks, controversial analyses and the audit trail (thin handlers over
:class:`jupyter_vlass.review.review.Review`).

Reading is open to every hub user (what experts said is shared); voting and marking need the experts'
scope, overriding the gate the approvers'.
"""

from __future__ import annotations

from tornado import web

from ..exceptions import Forbidden, InvalidArgument
from ..review.review import followed
from .base import ServiceHandler
from .capsules import CapsulesHandler
from .config import DECIDE_SCOPE, VOTE_SCOPE


class ReviewHandler(ServiceHandler):
    @property
    def review(self):
        return self.settings["review"]

    def require_scope(self, scope: str, what: str) -> None:
        if scope not in set(self.current_user.get("scopes", [])):
            raise Forbidden(f"{what} needs the scope {scope}")

    def int_argument(self, name: str, default: int) -> int:
        try:
            return int(self.get_argument(name, str(default)))
        except ValueError:
            raise InvalidArgument(f"{name}: a whole number") from None


class ConsensusAPI(ReviewHandler):
    """Compute and record the consensus of the caller's runs on a dataset version, from the outputs the service
    recorded when their jobs ended: ``{dataset_id, version, runs: ["model@site", ...], parameters}``."""

    @web.authenticated
    def post(self):
        body = self.json_body()
        if "detections" in body or "summary" in body:
            raise InvalidArgument("a consensus is computed here, from your jobs' recorded outputs: post "
                                  "{dataset_id, version, runs, parameters}, not a consensus")
        self.finish(self.review.record_runs(dataset_id=body.get("dataset_id"), version=body.get("version"),
                                            user=self.user_name, runs=body.get("runs"),
                                            parameters=body.get("parameters")))


class DatasetConsensusAPI(ReviewHandler):
    @web.authenticated
    def get(self, dataset_id):
        self.finish(self.review.latest(dataset_id, self.get_argument("version", None)))


class VotesAPI(ReviewHandler):
    @web.authenticated
    def post(self, result_id):
        self.require_scope(VOTE_SCOPE, "voting")
        body = self.json_body()
        number = int(result_id) if result_id.isdigit() and len(result_id) < 19 else -1  # -1: no such result
        self.finish(self.review.vote(result_id=number, detection=body.get("detection"), user=self.user_name,
                                     verdict=body.get("verdict"), comment=body.get("comment", "")))


class GateAPI(ReviewHandler):
    @web.authenticated
    def get(self):
        self.finish(self.review.gate(self.get_argument("dataset_id"), self.get_argument("version")).to_json())


class OverrideAPI(ReviewHandler):
    @web.authenticated
    def post(self):
        self.require_decide("overriding the publish gate")
        body = self.json_body()
        self.finish(self.review.override(dataset_id=str(body.get("dataset_id")), version=str(body.get("version")),
                                         by=self.user_name, reason=body.get("reason")).to_json())


class MarksAPI(ReviewHandler, CapsulesHandler):
    """Marks of a capsule or a dataset version, with those of every capsule and dataset version it derives from
    (followed here, in the hub's store and registry); marking needs the experts' or approvers' scope."""

    def _capsule(self, subject) -> str | None:
        """The capsule a ``capsule:<id>`` subject names (:class:`UnknownAnalysis`: none the caller sees); for a
        dataset version ``<id>@<version>``, where the service holds the registry, :class:`UnknownDataset` unless
        the caller may see it."""
        if isinstance(subject, str) and subject.startswith("capsule:"):
            return self.visible(subject.removeprefix("capsule:"))["id"]
        if isinstance(subject, str) and "@" in subject and self._view() is not None:
            dataset_id, _, version = subject.rpartition("@")
            self._view().get(dataset_id, version)
        return None

    @web.authenticated
    async def get(self):
        subject = self.get_argument("subject")

        def marks():
            capsule = self._capsule(subject)
            lineage, hidden = followed(self.store.lineage(capsule) if capsule else [], self._view(), subject)
            return self.review.marks(subject, lineage, hidden=hidden)
        self.finish({"marks": await self.blocking(marks)})

    @web.authenticated
    async def post(self):
        if not self.may_decide:
            self.require_scope(VOTE_SCOPE, "marking a published result")
        body = self.json_body()
        if "derived" in body:
            raise InvalidArgument("derived: not taken; what derives from a marked result is followed here, "
                                  "in the hub's capsules and registry")
        await self.blocking(self._capsule, body.get("subject"))
        self.finish({"entries": self.review.mark(subject=body.get("subject"), mark=body.get("mark"),
                                                 explanation=body.get("explanation"), by=self.user_name)})


class ControversialAPI(ReviewHandler):
    @web.authenticated
    def get(self):
        self.finish({"analyses": self.review.controversial(min(max(self.int_argument("limit", 10), 1), 100))})


class AuditAPI(ReviewHandler):
    @web.authenticated
    def get(self):
        self.finish({"entries": self.review.audit.entries(subject=self.get_argument("subject", None))})


class AuditVerifyAPI(ReviewHandler):
    @web.authenticated
    def get(self):
        self.finish(self.review.audit.verify())


class ReviewPage(ReviewHandler):
    """A dataset's consensus with a vote form per detection (experts) and the gate's override (admins);
    the controversial analyses. Forms post with the page's XSRF token."""

    @web.authenticated
    def get(self):
        dataset_id = self.get_argument("dataset_id", None)
        result = decision = None
        if dataset_id:
            result = self.review.latest(dataset_id, self.get_argument("version", None))
            decision = self.review.gate(dataset_id, result["version"])
        scopes = set(self.current_user.get("scopes", []))
        self.render("review.html", user=self.user_name, result=result, decision=decision,
                    may_vote=VOTE_SCOPE in scopes, may_override=DECIDE_SCOPE in scopes,
                    controversial=self.review.controversial(10))

    @web.authenticated
    def post(self):
        action = self.get_body_argument("action", "")
        dataset_id, version = self.get_body_argument("dataset_id", ""), self.get_body_argument("version", "")
        if action == "vote":
            self.require_scope(VOTE_SCOPE, "voting")
            try:
                result_id, detection = int(self.get_body_argument("result")), int(self.get_body_argument("detection"))
            except ValueError:
                raise InvalidArgument("result and detection: whole numbers") from None
            self.review.vote(result_id=result_id, detection=detection, user=self.user_name,
                             verdict=self.get_body_argument("verdict", ""), comment=self.get_body_argument("comment", ""))
        elif action == "override":
            self.require_decide("overriding the publish gate")
            self.review.override(dataset_id=dataset_id, version=version, by=self.user_name,
                                 reason=self.get_body_argument("reason", ""))
        else:
            raise InvalidArgument("action: vote or override")
        self.redirect(self.request.path + "?" + "&".join(
            f"{k}={web.escape.url_escape(v)}" for k, v in (("dataset_id", dataset_id), ("version", version)) if v))


def routes(prefix_join) -> list:
    return [
        (prefix_join("api/consensus"), ConsensusAPI),
        (prefix_join(r"api/consensus/results/([^/]+)/votes"), VotesAPI),
        (prefix_join(r"api/consensus/([^/]+)"), DatasetConsensusAPI),
        (prefix_join("api/gate"), GateAPI),
        (prefix_join("api/gate/overrides"), OverrideAPI),
        (prefix_join("api/marks"), MarksAPI),
        (prefix_join("api/controversial"), ControversialAPI),
        (prefix_join("api/audit"), AuditAPI),
        (prefix_join("api/audit/verify"), AuditVerifyAPI),
        (prefix_join("review"), ReviewPage),
    ]
