"""Ledger arithmetic and the approval state machine, on SQLite and on PostgreSQL."""

import pytest

from jupyter_vlass.compute.approvals import Approvals
from jupyter_vlass.compute.ledger import Balance, Ledger
from jupyter_vlass.compute.profiles import load_profiles
from jupyter_vlass.compute.resources import request_from_options
from jupyter_vlass.compute.scheduler import parse_sacct
from jupyter_vlass.exceptions import AllocationExceeded, ApprovalDenied, AwaitingApproval, Conflict, InvalidArgument
from jupyter_vlass.store import make_engine, session_factory
from tests.services import REPO

PROFILES = load_profiles(REPO / "hub_config" / "profiles.yaml")
SACCT = """\
11|alice|astro|gpu-a100|1|3600|COMPLETED|2026-11-26T10:00:00|2026-11-26T11:00:00|cpu=1,gres/gpu=1,node=1|jupyterhub-vlass|2026-11-26T09:59:58
12|alice|astro|cpu|1|1800|RUNNING|2026-11-26T12:00:00|Unknown|cpu=1,node=1|jupyterhub-vlass|2026-11-26T11:58:00
13|bob|other|gpu-a100|1|0|PENDING|Unknown|Unknown||jupyterhub-vlass|2026-11-26T12:30:00
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def sessions(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'hub.sqlite'}" if request.param == "sqlite" else request.getfixturevalue(
        "postgres_url")
    engine = make_engine(url)
    yield session_factory(engine)
    engine.dispose()


def _request(profile="tacc-a100", **options):
    return request_from_options(PROFILES.get(profile).policy, options)


def test_charges_are_node_hours_times_rate_running_jobs_provisional(sessions):
    ledger = Ledger(sessions, cluster="vlass-local")
    ledger.grant("astro", 10, by="admin")
    assert ledger.record(parse_sacct(SACCT), {"gpu-a100": 4.0, "cpu": 1.0}) == 2
    balance = ledger.balance("astro")
    assert (balance.spent, balance.running, balance.available) == (4.0, 0.5, 5.5)
    finished = SACCT.replace("12|alice|astro|cpu|1|1800|RUNNING", "12|alice|astro|cpu|1|2700|COMPLETED")
    assert ledger.record(parse_sacct(finished), {"gpu-a100": 4.0, "cpu": 1.0}) == 1
    assert ledger.record(parse_sacct(finished), {"gpu-a100": 4.0, "cpu": 1.0}) == 0  # idempotent
    assert ledger.balance("astro").spent == 4.75
    with pytest.raises(AllocationExceeded, match=r"may use 8.0 SU but project astro has 5.2 SU left"):
        ledger.check("astro", _request(walltime="2h"), 4.0)
    assert ledger.check("astro", _request(walltime="1h"), 4.0).available == pytest.approx(5.25)


def test_approval_states(sessions):
    approvals = Approvals(sessions, threshold_gpu_hours=8)
    small = _request(walltime="2h")
    assert approvals.gate(user="alice", project="astro", profile="tacc-a100", request=small) is None
    big = _request(gpus="2", walltime="5h")
    with pytest.raises(AwaitingApproval) as waiting:
        approvals.gate(user="alice", project="astro", profile="tacc-a100", request=big)
    number = waiting.value.approval_id
    with pytest.raises(AwaitingApproval):  # asking again does not file a second request
        approvals.gate(user="alice", project="astro", profile="tacc-a100", request=big)
    assert [a.id for a in approvals.list(user="alice")] == [number]
    approvals.decide(number, by="admin", approve=True, reason="ok")
    granted = approvals.gate(user="alice", project="astro", profile="tacc-a100", request=big)
    assert granted.id == number and granted.decided_by == "admin"
    approvals.mark_used(number)
    with pytest.raises(AwaitingApproval) as again:  # an approval is used once
        approvals.gate(user="alice", project="astro", profile="tacc-a100", request=big)
    approvals.decide(again.value.approval_id, by="admin", approve=False, reason="too big")
    with pytest.raises(ApprovalDenied, match="denied by admin: too big"):
        approvals.gate(user="alice", project="astro", profile="tacc-a100", request=big)
    with pytest.raises(Conflict, match="already denied"):
        approvals.decide(again.value.approval_id, by="admin2", approve=True)
    with pytest.raises(InvalidArgument):
        approvals.decide(number, by="admin", approve=True, reason="x" * 3000)


def test_balance_json_figures_add_up_after_rounding():
    figures = Balance("ast", granted=500.0, spent=0.2224, running=0.0004).to_json()
    assert (figures["spent_su"], figures["running_su"]) == (0.222, 0.0)
    assert figures["available_su"] == round(figures["granted_su"] - figures["spent_su"] - figures["running_su"], 3)
    assert figures["available_su"] == 499.778  # rounding 499.7772 directly would give 499.777
