"""Analysis jobs as the hub sees them: authorized before they run, charged when they end, reported for the
dashboard (a page, its JSON) and the Prometheus metrics."""

from __future__ import annotations

from tornado import web

from ..jobs.dashboard import prometheus_text
from ..jobs.hub_results import claimed_key
from .base import ServiceHandler


class JobAuthorizeAPI(ServiceHandler):
    """May this analysis job run (project, approval above the threshold, allocation)? Asked by the user's server.
    The job is recorded with the result key the service computes for it (the hub-wide result cache)."""

    @web.authenticated
    def post(self):
        groups, body = self.current_user.get("groups") or [], self.json_body()
        registry = self.settings.get("registry")
        key = claimed_key(body, registry.viewer([g for g in groups if isinstance(g, str)]) if registry else None)
        grant = self.settings["job_accounting"].authorize(user=self.user_name, groups=groups, body=body)
        self.settings["job_records"].authorized(user=self.user_name, project=grant["project"], body=body,
                                                result_key=key)
        self.finish(grant)


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


class JobOutputsAPI(ServiceHandler):
    """What one of the caller's jobs wrote, as it ended: the sha256 of its outputs, with the bytes a consensus is
    computed from, on the service's record of the job (sent before the charge, which may wait for sacct)."""

    @web.authenticated
    def post(self):
        body = self.json_body()
        project = body.get("project")
        if project is not None:
            project = self.settings["job_accounting"].member(self.user_name, project)
        self.settings["job_records"].ended(user=self.user_name, project=project, body=body)
        self.set_status(204)
        self.finish()


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


def routes(prefix_join) -> list:
    return [(prefix_join("api/jobs/authorize"), JobAuthorizeAPI),
            (prefix_join("api/jobs/charges"), JobChargeAPI),
            (prefix_join("api/jobs/reports"), JobReportAPI),
            (prefix_join("api/jobs/outputs"), JobOutputsAPI),
            (prefix_join("dashboard"), DashboardPage),
            (prefix_join("metrics"), MetricsHandler)]
