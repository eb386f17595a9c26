"""Tornado application of the hub service: thin handlers over ``jupyter_vlass.compute``."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from urllib.parse import urlparse

from jupyterhub.services.auth import HubOAuthCallbackHandler, HubOAuthenticated
from jupyterhub.utils import url_path_join
from tornado import web

from ..compute.approvals import Approvals
from ..compute.dashboard import JobReports, prometheus_text
from ..compute.job_accounts import JobAccounting
from ..compute.ledger import Ledger, LedgerSync
from ..reproducibility.keys import Keyring
from ..reproducibility.signature_log import SignatureLog
from ..reproducibility.signing import sign_statement
from ..exceptions import Forbidden, InvalidArgument, NotFound, UnknownApproval
from ..store import make_engine, session_factory
from ..web_errors import TypedErrorsMixin
from .config import DECIDE_SCOPE

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

    def check_xsrf_cookie(self):
        """A request that carries its own token is not riding on a cookie: XSRF checks are for cookies.

        A browser cannot add an ``Authorization`` header to a cross-site request without CORS, which
        this service never grants; cookie-authenticated POSTs must bring the ``_xsrf`` token.
        """
        if self.request.headers.get("Authorization"):
            return
        super().check_xsrf_cookie()

    def require_decide(self, what: str) -> None:
        if not self.may_decide:
            raise Forbidden(f"{what} needs the scope {DECIDE_SCOPE}")


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


class JobAuthorizeAPI(ServiceHandler):
    """May this analysis job run (project, approval above the threshold, allocation)? Asked by the user's server."""

    @web.authenticated
    def post(self):
        groups = self.current_user.get("groups") or []
        self.finish(self.settings["job_accounting"].authorize(user=self.user_name, groups=groups,
                                                              body=self.json_body()))


class JobChargeAPI(ServiceHandler):
    """A finished analysis job's charge: a local job's as its server reports it; a Slurm job's from sacct."""

    @web.authenticated
    async def post(self):
        body = self.json_body()
        accounting = self.settings["job_accounting"]
        if body.get("site_kind") == "slurm":
            await self.settings["sync_ledger"]()
            self.finish(accounting.slurm_charge(user=self.user_name, project=body.get("project"),
                                                job_id=body.get("job_id")))
        else:
            self.finish(accounting.charge_local(user=self.user_name, body=body))


class JobReportAPI(ServiceHandler):
    """How one of the caller's analysis jobs ended (their server reports it once), for the dashboard."""

    @web.authenticated
    def post(self):
        body = self.json_body()
        project = body.get("project")
        if project is not None:
            project = self.settings["job_accounting"].member(self.user_name, project)
        self.settings["job_reports"].record(user=self.user_name, project=project, body=body)
        self.set_status(204)
        self.finish()


class DashboardPage(ServiceHandler):
    """Jobs by site and state, service units, cache hit rate, submission success, queue wait: everyone's
    for an admin, the caller's own otherwise."""

    @web.authenticated
    def get(self):
        figures = self.settings["job_reports"].figures(user=None if self.may_decide else self.user_name)
        if self.get_argument("format", "html") == "json":
            self.finish(figures)
            return
        self.render("dashboard.html", figures=figures, user=self.user_name, everyone=self.may_decide)


class MetricsHandler(ServiceHandler):
    """The dashboard's figures for Prometheus (a token with the approvers' scope, as /hub/metrics needs one)."""

    @web.authenticated
    def get(self):
        self.require_decide("reading the metrics")
        self.set_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.finish(prometheus_text(self.settings["job_reports"].figures()))


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


class CapsuleSignAPI(ServiceHandler):
    """Sign a capsule for its author with the site's key (users never hold it): ``{statement, crate}``."""

    @web.authenticated
    def post(self):
        body = self.json_body()
        signed = sign_statement(self.settings["keyring"], statement=body.get("statement"), crate=body.get("crate"),
                                user=self.user_name)
        self.settings["signature_log"].record(capsule_id=signed["capsule_id"], user=self.user_name,
                                              key_id=signed["key_id"])
        self.finish(signed)


class CapsuleSignaturesAPI(ServiceHandler):
    """The signing log: everyone's for an approver, the caller's own otherwise."""

    @web.authenticated
    def get(self):
        user = None if self.may_decide else self.user_name
        self.finish({"signatures": self.settings["signature_log"].list(user=user)})


class KeysAPI(ServiceHandler):
    """The site's public keys, retired ones included (old capsules verify with them)."""

    @web.authenticated
    def get(self):
        self.finish({"keys": [k.to_json() for k in self.settings["keyring"].public_keys()]})


class KeyRotateAPI(ServiceHandler):
    @web.authenticated
    def post(self):
        self.require_decide("rotating the signing key")
        self.finish({"key_id": self.settings["keyring"].rotate()})


class NoSuchPage(TypedErrorsMixin, web.RequestHandler):
    """Any other path: a JSON 404 like every other error of the service."""

    def prepare(self):
        raise NotFound(f"no such page: {self.request.path[:200]}")

    def check_xsrf_cookie(self):  # a 404 whatever the method
        pass


def make_app(*, db_url: str, profiles=None, keys: str | None = None,
             publish_threshold: float | None = None, search_quota: str | None = None) -> web.Application:
    from ..federation.limits import Limits
    from ..models.review import Review
    from .quota_api import routes as quota_routes
    from .review_api import routes as review_routes

    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/vlass/")
    sessions = session_factory(make_engine(db_url))
    cluster = profiles.site if profiles else "local"
    threshold = profiles.approval_threshold_gpu_hours if profiles else 0.0
    approvals, ledger = Approvals(sessions, threshold_gpu_hours=threshold), Ledger(sessions, cluster=cluster)
    return web.Application(
        [
            (url_path_join(prefix, "api/approvals"), ApprovalsAPI),
            (url_path_join(prefix, r"api/approvals/([^/]+)"), ApprovalAPI),
            (url_path_join(prefix, r"api/allocations/([^/]+)"), AllocationAPI),
            (url_path_join(prefix, "api/jobs/authorize"), JobAuthorizeAPI),
            (url_path_join(prefix, "api/jobs/charges"), JobChargeAPI),
            (url_path_join(prefix, "api/jobs/reports"), JobReportAPI),
            (url_path_join(prefix, "api/capsules/sign"), CapsuleSignAPI),
            (url_path_join(prefix, "api/capsules/signatures"), CapsuleSignaturesAPI),
            (url_path_join(prefix, "api/keys"), KeysAPI),
            (url_path_join(prefix, "api/keys/rotate"), KeyRotateAPI),
            (url_path_join(prefix, "dashboard"), DashboardPage),
            (url_path_join(prefix, "metrics"), MetricsHandler),
            (url_path_join(prefix, "approvals"), ApprovalsPage),
            (url_path_join(prefix, "oauth_callback"), HubOAuthCallbackHandler),
            *review_routes(lambda path: url_path_join(prefix, path)),
            *quota_routes(lambda path: url_path_join(prefix, path)),
        ],
        search_quota=Limits(user_quota=search_quota) if search_quota else None,
        search_quota_text=search_quota,
        approvals=approvals,
        ledger=ledger,
        job_accounting=JobAccounting(ledger, approvals, profiles),
        sync_ledger=LedgerSync(ledger, profiles),
        job_reports=JobReports(sessions),
        keyring=Keyring(keys or os.path.abspath("vlass-keys")),
        signature_log=SignatureLog(sessions),
        review=Review(sessions, threshold=publish_threshold),
        cookie_secret=os.urandom(32),
        template_path=os.path.join(os.path.dirname(__file__), "templates"),
        xsrf_cookies=True,
        default_handler_class=NoSuchPage,
    )


async def serve(app: web.Application, port: int, host: str | None) -> None:
    """Listen until SIGINT or SIGTERM, however the process was launched.

    The hub stops a managed service with SIGINT first; a process started from a background shell
    inherits SIGINT ignored, so both signals get handlers of our own here.
    """
    server = app.listen(port, host)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    try:
        await stopping.wait()
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jupyter_vlass.hubservice", description=__doc__)
    parser.add_argument("--db", required=True, help="database URL shared with the spawner")
    parser.add_argument("--profiles", help="profiles YAML (for the cluster name and threshold)")
    parser.add_argument("--keys", help="the site's signing keyring folder (default: ./vlass-keys)")
    parser.add_argument("--publish-threshold", type=float, default=None,
                        help="the consensus score publishing needs (default: $JUPYTER_VLASS_PUBLISH_THRESHOLD, else 0.8)")
    parser.add_argument("--search-quota", default=None,
                        help="searches each user may make across all their servers, such as '600/h' (default: none)")
    args = parser.parse_args(argv)
    if args.search_quota:
        from ..federation.limits import parse_rate
        try:
            parse_rate(args.search_quota)
        except InvalidArgument as error:
            parser.error(error.message)
    profiles = None
    if args.profiles:
        from ..compute.profiles import load_profiles
        profiles = load_profiles(args.profiles)
    url = urlparse(os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:10101"))
    asyncio.run(serve(make_app(db_url=args.db, profiles=profiles, keys=args.keys,
                                     publish_threshold=args.publish_threshold, search_quota=args.search_quota),
                     url.port, url.hostname))
    return 0
