"""What the hub service decides and counts for analysis jobs (SQLite and PostgreSQL): project membership,
approvals above the threshold, allocations, one charge per job, each user's charges their own; the
dashboard's figures and their Prometheus text. The same over a real hub: tests/spawners/test_hub_jobs.py."""

import pytest
from prometheus_client.parser import text_string_to_metric_families

from jupyter_vlass.compute.approvals import Approvals
from jupyter_vlass.jobs.dashboard import JobReports, prometheus_text
from jupyter_vlass.jobs.job_accounts import JobAccounting
from jupyter_vlass.compute.ledger import Ledger
from jupyter_vlass.compute.profiles import load_profiles
from jupyter_vlass.exceptions import AllocationExceeded, AwaitingApproval, Forbidden, InvalidArgument
from tests.compute.test_ledger_approvals import sessions  # noqa: F401 (the SQLite/PostgreSQL fixture)
from tests.services import REPO

PROFILES = load_profiles(REPO / "hub_config" / "profiles.yaml")


def accounting(sessions):
    ledger = Ledger(sessions, cluster=PROFILES.site)
    return JobAccounting(ledger, Approvals(sessions, threshold_gpu_hours=8), PROFILES), ledger


def test_jobs_are_authorized_for_members_within_the_allocation(sessions):  # noqa: F811
    jobs, ledger = accounting(sessions)
    ledger.grant("astro", 30, by="admin")
    with pytest.raises(Forbidden, match="do not charge project 'astro'"):
        jobs.authorize(user="alice", groups=[], body={"project": "astro", "site_kind": "local"})
    ledger.add_member("alice", "astro")
    assert jobs.authorize(user="alice", groups=[], body={"project": "astro", "site_kind": "local"})["project"] == "astro"
    small = {"project": "astro", "site_kind": "slurm", "profile": "tacc-a100", "resources": {"walltime": "2h"}}
    assert jobs.authorize(user="alice", groups=[], body=small)["cost_su"] == 8.0  # 2 h x 4 SU per node-hour
    big = {**small, "resources": {"gpus": 2, "walltime": "5h"}}  # 10 GPU-hours > 8
    with pytest.raises(AwaitingApproval) as waiting:
        jobs.authorize(user="alice", groups=[], body=big)
    jobs.approvals.decide(waiting.value.approval_id, by="admin", approve=True, reason="")
    ledger.grant("astro", 10, by="admin")
    with pytest.raises(AllocationExceeded):  # approved, but 5 h x 4 SU per node-hour = 20 SU > 10
        jobs.authorize(user="alice", groups=[], body=big)
    ledger.grant("astro", 30, by="admin")
    assert jobs.authorize(user="alice", groups=[], body=big)["approval"] == waiting.value.approval_id
    with pytest.raises(AwaitingApproval):  # one approval, one job: the next asks again
        jobs.authorize(user="alice", groups=[], body=big)
    for hostile in ({"project": "astro\n#SBATCH", "site_kind": "local"}, {"project": "astro", "site_kind": "ssh"},
                    {**small, "profile": "../x"}, {**small, "resources": "gpus=8"}):
        with pytest.raises((InvalidArgument, Forbidden)):
            jobs.authorize(user="alice", groups=[], body=hostile)


def test_a_local_job_is_charged_once_and_only_to_its_user(sessions):  # noqa: F811
    jobs, ledger = accounting(sessions)
    ledger.grant("astro", 10, by="admin")
    for user in ("alice", "bob"):
        ledger.add_member(user, "astro")
    body = {"project": "astro", "job_id": "j0123456789abcdef.1", "su": 1.5, "elapsed_s": 5400, "state": "done"}
    assert jobs.charge_local(user="alice", body=body)["charged"] is True
    assert jobs.charge_local(user="alice", body={**body, "su": 0.0})["charged"] is False  # once
    assert jobs.charge_local(user="bob", body={**body, "su": 0.5})["charged"] is True  # bob's own row
    assert ledger.balance("astro").spent == pytest.approx(2.0)
    for bad in ({"su": -1}, {"su": float("nan")}, {"su": True}, {"elapsed_s": "1"}, {"job_id": "a b"}):
        with pytest.raises(InvalidArgument):
            jobs.charge_local(user="alice", body={**body, **bad, "job_id": bad.get("job_id", "j2")})


def test_dashboard_figures_and_their_prometheus_text(sessions):  # noqa: F811
    reports = JobReports(sessions)
    ended = {"site_kind": "local", "site": "local", "state": "done", "submitted": True, "cached": False,
             "queue_wait_s": 0.5, "su": 0.1}
    reports.record(user="alice", project="astro", body={**ended, "job_id": "a.1"})
    reports.record(user="alice", project="astro", body={**ended, "job_id": "a.1"})  # the same job: replaced
    reports.record(user="alice", project="astro", body={**ended, "job_id": "b.1", "cached": True,
                                                        "submitted": False, "queue_wait_s": None})
    reports.record(user="bob", project=None, body={**ended, "job_id": "c.1", "site": "slurm", "site_kind": "slurm",
                                                   "state": "failed", "submitted": False, "queue_wait_s": None})
    reports.record(user="bob", project=None, body={**ended, "job_id": "d.1", "site": "slurm", "site_kind": "slurm",
                                                   "state": "cancelled", "status_lag_s": 1.25})
    figures = reports.figures()
    assert {(j["site"], j["state"]): j["count"] for j in figures["jobs"]} == {
        ("local", "done"): 2, ("slurm", "failed"): 1, ("slurm", "cancelled"): 1}
    assert figures["cache"] == {"hits": 1, "computed": 1, "hit_rate": 0.5}
    assert figures["submissions"] == {"reached_site": 2, "tried": 3, "success_rate": pytest.approx(2 / 3)}
    assert figures["queue_wait_s"] == {"local": {"count": 1, "median": 0.5, "max": 0.5},
                                       "slurm": {"count": 1, "median": 0.5, "max": 0.5}}
    assert figures["status_lag_s"] == {"slurm": {"count": 1, "median": 1.25, "max": 1.25}}
    assert {j["site"] for j in reports.figures(user="bob")["jobs"]} == {"slurm"}
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(prometheus_text(figures).decode()) for s in family.samples}
    assert samples[("vlass_jobs_total", (("site", "local"), ("state", "done")))] == 2
    assert samples[("vlass_jobs_rate", (("rate", "submission_success"),))] == pytest.approx(2 / 3)
    assert samples[("vlass_status_lag_seconds", (("site", "slurm"),))] == 1.25
    for bad in ({"state": "running"}, {"cached": "yes"}, {"site": "a/b"}, {"queue_wait_s": -1}, {"su": float("inf")}):
        with pytest.raises(InvalidArgument):
            reports.record(user="alice", project=None, body={**ended, "job_id": "d.1", **bad})
