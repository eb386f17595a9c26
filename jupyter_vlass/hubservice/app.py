"""Tornado application of the hub service: thin handlers over ``jupyter_vlass.compute``."""

from __future__ import annotations

import argparse
import os
from urllib.parse import urlparse

from jupyterhub.services.auth import HubOAuthCallbackHandler, HubOAuthenticated
from jupyterhub.utils import url_path_join
from tornado import web
from tornado.ioloop import IOLoop

from ..compute.approvals import Approvals
from ..compute.ledger import Ledger
from ..exceptions import InvalidArgument
from ..server.handlers.errors import TypedErrorsMixin
from .config import DECIDE_SCOPE
from ..store import make_engine, session_factory



class ServiceHandler(TypedErrorsMixin, HubOAuthenticated, web.RequestHandler):
    """Base: errors as JSON ``{message, reason}``; the caller's name and whether they may decide."""

    @property
    def approvals(self) -> Approvals:
        return self.settings["approvals"]

    @property
    def ledger(self) -> Ledger:
        return self.settings["ledger"]

    @property
    def user_name(self) -> str:
        return self.current_user["name"]

    @property
    def may_decide(self) -> bool:
        return DECIDE_SCOPE in set(self.current_user.get("scopes", []))

    def write_error(self, status_code, **kwargs):
        """Tornado's own errors (401, 403, 404) as JSON too."""
        error = kwargs.get("exc_info", (None, None))[1]
        self.write_json({"message": getattr(error, "log_message", None) or self._reason, "reason": "error"},
                        status=status_code)


class ApprovalsAPI(ServiceHandler):
    @web.authenticated
    def get(self):
        status = self.get_argument("status", None)
        user = None if self.may_decide else self.user_name
        self.finish({"approvals": [a.to_json() for a in self.approvals.list(user=user, status=status)]})


class ApprovalAPI(ServiceHandler):
    @web.authenticated
    def get(self, approval_id):
        approval = self.approvals.get(int(approval_id))
        if approval.user != self.user_name and not self.may_decide:
            raise web.HTTPError(404)
        self.finish(approval.to_json())

    @web.authenticated
    def post(self, approval_id):
        if not self.may_decide:
            raise web.HTTPError(403, f"deciding needs the scope {DECIDE_SCOPE}")
        body = self.json_body()
        decision = body.get("decision")
        if decision not in ("approve", "deny"):
            raise InvalidArgument("decision: must be 'approve' or 'deny'")
        approval = self.approvals.decide(int(approval_id), by=self.user_name, approve=decision == "approve",
                                         reason=body.get("reason", ""))
        self.finish(approval.to_json())


class AllocationAPI(ServiceHandler):
    @web.authenticated
    def get(self, project):
        mine = {c.project for c in self.ledger.charges(user=self.user_name)}
        mine |= {a.project for a in self.approvals.list(user=self.user_name)}
        if not self.may_decide and project not in mine and project != self.user_name:
            raise web.HTTPError(404)
        self.finish(self.ledger.balance(project).to_json())

    @web.authenticated
    def post(self, project):
        if not self.may_decide:
            raise web.HTTPError(403, f"granting allocations needs the scope {DECIDE_SCOPE}")
        su = self.json_body().get("granted_su")
        if isinstance(su, bool) or not isinstance(su, (int, float)):
            raise InvalidArgument("granted_su: must be a number")
        self.ledger.grant(project, float(su), by=self.user_name)
        self.finish(self.ledger.balance(project).to_json())


class ApprovalsPage(ServiceHandler):
    @web.authenticated
    def get(self):
        user = None if self.may_decide else self.user_name
        self.render("approvals.html", approvals=self.approvals.list(user=user), may_decide=self.may_decide,
                    user=self.user_name)

    @web.authenticated
    def post(self):
        if not self.may_decide:
            raise web.HTTPError(403, f"deciding needs the scope {DECIDE_SCOPE}")
        decision = self.get_body_argument("decision", "")
        if decision not in ("approve", "deny"):
            raise InvalidArgument("decision: must be 'approve' or 'deny'")
        approval_id = self.get_body_argument("id", "")
        if not approval_id.isdigit():
            raise InvalidArgument("id: must be an approval request number")
        self.approvals.decide(int(approval_id), by=self.user_name, approve=decision == "approve",
                              reason=self.get_body_argument("reason", ""))
        self.redirect(self.request.path)


def make_app(*, db_url: str, cluster: str = "local", threshold: float = 0.0) -> web.Application:
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/vlass/")
    sessions = session_factory(make_engine(db_url))
    return web.Application(
        [
            (url_path_join(prefix, "api/approvals"), ApprovalsAPI),
            (url_path_join(prefix, r"api/approvals/(\d+)"), ApprovalAPI),
            (url_path_join(prefix, r"api/allocations/([A-Za-z0-9_.-]{1,64})"), AllocationAPI),
            (url_path_join(prefix, "approvals"), ApprovalsPage),
            (url_path_join(prefix, "oauth_callback"), HubOAuthCallbackHandler),
        ],
        approvals=Approvals(sessions, threshold_gpu_hours=threshold),
        ledger=Ledger(sessions, cluster=cluster),
        cookie_secret=os.urandom(32),
        template_path=os.path.join(os.path.dirname(__file__), "templates"),
        xsrf_cookies=False,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jupyter_vlass.hubservice", description=__doc__)
    parser.add_argument("--db", required=True, help="database URL shared with the spawner")
    parser.add_argument("--profiles", help="profiles YAML (for the cluster name and threshold)")
    args = parser.parse_args(argv)
    cluster, threshold = "local", 0.0
    if args.profiles:
        from ..compute.profiles import load_profiles
        profiles = load_profiles(args.profiles)
        cluster, threshold = profiles.site, profiles.approval_threshold_gpu_hours
    url = urlparse(os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:10101"))
    make_app(db_url=args.db, cluster=cluster, threshold=threshold).listen(url.port, url.hostname)
    IOLoop.current().start()
    return 0
