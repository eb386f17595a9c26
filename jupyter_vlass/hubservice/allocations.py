"""Allocations and approvals: the ledger of service units per project, and the large requests an admin
decides (the API, and the page where an admin decides them)."""

from __future__ import annotations

from tornado import web

from ..exceptions import InvalidArgument, NotFound, UnknownApproval
from .base import ServiceHandler


class ApprovalsAPI(ServiceHandler):
    @web.authenticated
    def get(self):
        status = self.get_argument("status", None)
        user = None if self.may_decide else self.user_name
        self.finish({"approvals": [a.to_json() for a in self.approvals.list(user=user, status=status)]})


class ApprovalAPI(ServiceHandler):
    @web.authenticated
    def get(self, approval_id):
        approval = self.approvals.get(approval_id)
        if approval.user != self.user_name and not self.may_decide:
            raise UnknownApproval(f"no approval request #{approval.id}")
        self.finish(approval.to_json())

    @web.authenticated
    def post(self, approval_id):
        self.require_decide("deciding")
        body = self.json_body()
        decision = body.get("decision")
        if decision not in ("approve", "deny"):
            raise InvalidArgument("decision: must be 'approve' or 'deny'")
        approval = self.approvals.decide(approval_id, by=self.user_name, approve=decision == "approve",
                                         reason=body.get("reason", ""))
        self.finish(approval.to_json())


class AllocationAPI(ServiceHandler):
    @web.authenticated
    def get(self, project):
        mine = {c.project for c in self.ledger.charges(user=self.user_name)}
        mine |= {a.project for a in self.approvals.list(user=self.user_name)}
        mine |= self.ledger.projects_of(self.user_name)
        if not self.may_decide and project not in mine and project != self.user_name:
            raise NotFound(f"no allocation of project {project!r} that you may see")
        self.finish(self.ledger.balance(project).to_json())

    @web.authenticated
    def post(self, project):
        self.require_decide("granting allocations")
        self.ledger.grant(project, self.json_body().get("granted_su"), by=self.user_name)
        self.finish(self.ledger.balance(project).to_json())


class ApprovalsPage(ServiceHandler):
    @web.authenticated
    def get(self):
        user = None if self.may_decide else self.user_name
        self.render("approvals.html", approvals=self.approvals.list(user=user), may_decide=self.may_decide,
                    user=self.user_name)

    @web.authenticated
    def post(self):
        self.require_decide("deciding")
        decision = self.get_body_argument("decision", "")
        if decision not in ("approve", "deny"):
            raise InvalidArgument("decision: must be 'approve' or 'deny'")
        self.approvals.decide(self.get_body_argument("id", ""), by=self.user_name, approve=decision == "approve",
                              reason=self.get_body_argument("reason", ""))
        self.redirect(self.request.path)


def routes(prefix_join) -> list:
    return [(prefix_join("api/approvals"), ApprovalsAPI),
            (prefix_join(r"api/approvals/([^/]+)"), ApprovalAPI),
            (prefix_join(r"api/allocations/([^/]+)"), AllocationAPI),
            (prefix_join("approvals"), ApprovalsPage)]
