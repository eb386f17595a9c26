"""The hub-wide cost and multi-site figures: what users' servers report of their ended jobs, with the
ledger's service units; as a dict (the HTML dashboard) and as Prometheus metrics.

Each user's server reports every ended job once (done, failed or cancelled; computed or answered by the
cache; refused before reaching a site or not). Figures: jobs by site and state, service units by user,
project and site, the cache hit rate, the submission success rate (jobs that reached their site among
those the platform tried to submit: refusals for allocation or approval are not failures), the queue
wait (submission to start) and the status lag (the scheduler's start to the job seen running) by site.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ..exceptions import InvalidArgument
from ..patterns import PLAIN_NAME
from ..store import ChargeRow, JobReportRow
from ..store.times import utcnow

STATES = ("done", "failed", "cancelled")
REFUSALS = ("allocation_exceeded", "awaiting_approval", "approval_denied", "forbidden")


def _number(value: object, field: str, *, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise InvalidArgument(f"{field}: a finite number from 0")
    return float(value)


class JobReports:
    def __init__(self, sessions: sessionmaker[Session]):
        self._sessions = sessions

    def record(self, *, user: str, project: str | None, body: dict) -> None:
        """One ended job of ``user`` (a second report of the same job and attempt replaces the first)."""
        fields = {}
        for name in ("job_id", "site"):
            value = body.get(name)
            if not isinstance(value, str) or not PLAIN_NAME.match(value):
                raise InvalidArgument(f"{name}: must match {PLAIN_NAME.pattern}")
            fields[name] = value
        if body.get("site_kind") not in ("local", "slurm") or body.get("state") not in STATES:
            raise InvalidArgument(f"site_kind: local or slurm; state: one of {', '.join(STATES)}")
        for name in ("submitted", "cached"):
            if not isinstance(body.get(name), bool):
                raise InvalidArgument(f"{name}: true or false")
        row = JobReportRow(user=user, project=project, site_kind=body["site_kind"], state=body["state"],
                           submitted=body["submitted"], cached=body["cached"],
                           queue_wait_s=_number(body.get("queue_wait_s"), "queue_wait_s", optional=True),
                           status_lag_s=_number(body.get("status_lag_s"), "status_lag_s", optional=True),
                           su=_number(body.get("su", 0.0), "su"), ended_at=utcnow(), **fields)
        with self._sessions.begin() as session:
            session.merge(row)

    def figures(self, *, user: str | None = None) -> dict:
        """Everything (``user`` None: an admin) or one user's own figures."""
        with self._sessions() as session:
            reports = select(JobReportRow)
            charges = select(ChargeRow)
            if user is not None:
                reports, charges = reports.where(JobReportRow.user == user), charges.where(ChargeRow.user == user)
            rows = session.scalars(reports).all()
            spent = session.scalars(charges).all()
        by_site_state = Counter((r.site, r.state) for r in rows)
        su = {"user": defaultdict(float), "project": defaultdict(float), "site": defaultdict(float)}
        for charge in spent:
            su["user"][charge.user] += charge.su
            su["project"][charge.project] += charge.su
            su["site"][charge.cluster] += charge.su
        answered = [r for r in rows if r.state == "done"]
        hits = sum(r.cached for r in answered)
        tried = [r for r in rows if not r.cached]
        reached = sum(r.submitted for r in tried)
        waits, lags = defaultdict(list), defaultdict(list)
        for r in rows:
            if r.queue_wait_s is not None:
                waits[r.site].append(r.queue_wait_s)
            if r.status_lag_s is not None:
                lags[r.site].append(r.status_lag_s)
        return {
            "jobs": [{"site": site, "state": state, "count": n} for (site, state), n in sorted(by_site_state.items())],
            "su": {kind: {k: round(v, 3) for k, v in sorted(values.items())} for kind, values in su.items()},
            "cache": {"hits": hits, "computed": len(answered) - hits,
                      "hit_rate": hits / len(answered) if answered else None},
            "submissions": {"reached_site": reached, "tried": len(tried),
                            "success_rate": reached / len(tried) if tried else None},
            "queue_wait_s": {site: {"count": len(v), "median": statistics.median(v), "max": max(v)}
                             for site, v in sorted(waits.items())},
            "status_lag_s": {site: {"count": len(v), "median": statistics.median(v), "max": max(v)}
                             for site, v in sorted(lags.items())},
        }


def prometheus_text(figures: dict) -> bytes:
    """The figures in Prometheus's text format, named as JupyterHub names its own (``vlass_jobs_total``...)."""
    from prometheus_client import CollectorRegistry, Gauge, generate_latest

    registry = CollectorRegistry()
    jobs = Gauge("vlass_jobs_total", "Ended analysis jobs by site and state", ["site", "state"], registry=registry)
    for item in figures["jobs"]:
        jobs.labels(item["site"], item["state"]).set(item["count"])
    su = Gauge("vlass_service_units_total", "Service units charged", ["by", "name"], registry=registry)
    for kind, values in figures["su"].items():
        for name, value in values.items():
            su.labels(kind, name).set(value)
    rates = Gauge("vlass_jobs_rate", "Cache hit rate and submission success rate", ["rate"], registry=registry)
    for name, value in (("cache_hit", figures["cache"]["hit_rate"]),
                        ("submission_success", figures["submissions"]["success_rate"])):
        if value is not None:
            rates.labels(name).set(value)
    wait = Gauge("vlass_queue_wait_seconds", "Queue wait of analysis jobs (median)", ["site"], registry=registry)
    for site, values in figures["queue_wait_s"].items():
        wait.labels(site).set(values["median"])
    lag = Gauge("vlass_status_lag_seconds", "Scheduler start to the job seen running (median)", ["site"],
                registry=registry)
    for site, values in figures["status_lag_s"].items():
        lag.labels(site).set(values["median"])
    return generate_latest(registry)
