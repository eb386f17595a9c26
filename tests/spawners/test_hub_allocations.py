"""Approvals, the allocation ledger from Slurm accounting, the spawn form and profile reloads, on the real hub."""

from __future__ import annotations

import re
import time

import pytest
import requests
import yaml

from jupyter_vlass.compute.ledger import Ledger
from jupyter_vlass.store import make_engine, session_factory

pytestmark = pytest.mark.timeout(300)


def test_large_request_waits_for_approval_and_runs_once_approved(hub):
    name = hub.user("vlt-dave", groups=("gpu-power-users",), allocation=1000)
    response = hub.spawn(name, {"profile": "tacc-a100-x2", "walltime": "5h"})  # 2 GPUs x 5 h = 10 > 8
    assert response.status_code == 202, response.text
    events = hub.events(name, until="awaiting", timeout=20)
    waiting = [e["message"] for e in events if "awaiting" in e["message"]]
    assert waiting and "10 GPU-hours" in waiting[0] and "8 GPU-hour threshold" in waiting[0]
    number = int(re.search(r"Request #(\d+)", waiting[0]).group(1))
    # The user sees their own request; another user does not; only an approver may decide.
    own = hub.service("GET", "/api/approvals", token=hub.token_for(name)).json()["approvals"]
    assert [a["id"] for a in own] == [number] and own[0]["status"] == "pending"
    anonymous = requests.get(f"{hub.url}/services/vlass/api/approvals", allow_redirects=False, timeout=30)
    assert anonymous.status_code in (302, 403)  # to the hub's login, never the data
    other = hub.user("vlt-erin")
    assert hub.service("GET", "/api/approvals", token=hub.token_for(other)).json()["approvals"] == []
    refused = hub.service("POST", f"/api/approvals/{number}", token=hub.token_for(other),
                          json={"decision": "approve"})
    assert refused.status_code == 403
    for body in ({"data": "not json"}, {"json": {"decision": "maybe"}}, {"json": ["approve"]}):
        bad = hub.service("POST", f"/api/approvals/{number}", **body)
        assert bad.status_code == 400 and set(bad.json()) == {"message", "reason"}
    assert hub.service("GET", "/api/approvals/999999").status_code == 404
    decided = hub.service("POST", f"/api/approvals/{number}", json={"decision": "approve", "reason": "paper deadline"})
    assert decided.status_code == 200 and decided.json()["decided_by"] == "tests"
    server = hub.wait_ready(name, timeout=90)
    assert server["state"]["child_state"]["gpus"] == "0,1"
    record = hub.service("GET", f"/api/approvals/{number}").json()
    assert record["status"] == "approved" and record["reason"] == "paper deadline" and record["used"]
    again = hub.service("POST", f"/api/approvals/{number}", json={"decision": "deny"})
    assert again.status_code == 409 and again.json()["reason"] == "already_decided"
    hub.stop_server(name)


def test_denied_request_tells_the_user_who_and_why(hub):
    name = hub.user("vlt-dave", groups=("gpu-power-users",), allocation=1000)
    assert hub.spawn(name, {"profile": "tacc-a100-x2", "walltime": "6h"}).status_code == 202
    events = hub.events(name, until="awaiting", timeout=20)
    number = int(re.search(r"Request #(\d+)", events[-1]["message"]).group(1))
    hub.service("POST", f"/api/approvals/{number}", json={"decision": "deny", "reason": "use the CPU partition"})
    hub.wait_stopped(name, timeout=30)
    form = hub.login(name).get(f"{hub.url}/hub/spawn/{name}").text
    assert f"Request #{number}" in form and "denied" in form and "use the CPU partition" in form


def test_ledger_charges_finished_jobs_from_sacct_at_the_partition_rate(hub):
    name = hub.user("vlt-frank", allocation=500)
    hub.spawn(name, {"profile": "tacc-a100", "walltime": "1h"})
    job = hub.wait_ready(name)["state"]["child_state"]["job_id"]
    time.sleep(3)
    hub.stop_server(name)
    ledger = Ledger(session_factory(make_engine(hub.db_url)), cluster="vlass-local")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        # Any spawn syncs the ledger; a refused one (unknown key) does not, so use the form page.
        hub.login(name).get(f"{hub.url}/hub/spawn/{name}")
        charges = {c.job_id: c for c in ledger.charges(user=name)}
        if job in charges and charges[job].final:
            break
        time.sleep(2)
    charge = charges[job]
    assert charge.final and charge.partition == "gpu-a100" and charge.project == name
    assert charge.elapsed_s >= 3 and charge.su == pytest.approx(charge.elapsed_s / 3600 * 4.0)
    balance = hub.service("GET", f"/api/allocations/{name}", token=hub.token_for(name)).json()
    assert balance["spent_su"] >= round(charge.su, 3) and balance["available_su"] == pytest.approx(
        500 - balance["spent_su"] - balance["running_su"], abs=1e-3)


def test_form_shows_only_the_users_profiles_with_allocation_and_estimates_escaped(hub):
    name = hub.user("vlt-erin", allocation=123)
    form = hub.login(name).get(f"{hub.url}/hub/spawn/{name}").text
    assert "Run on TACC: A100 x1" in form and "Run on Local GPU" in form
    assert "tacc-a100-x2" not in form  # gpu-power-users only
    assert "Allocation <strong>vlt-erin</strong>" in form and "123.0" in form
    assert re.search(r"A100 x1, 8 GB, 4 h \(starts [^)]+\)", form)
    assert 'name="tacc-a100.walltime"' in form and 'name="tacc-a100.nodes"' not in form


def test_profiles_are_reread_without_restart_and_a_bad_edit_keeps_the_last_good(hub):
    name = hub.user("vlt-erin")
    original = hub.profiles.read_text()
    document = yaml.safe_load(original)
    try:
        document["profiles"].append({"name": "tacc-cpu-long", "display_name": "Run on TACC: <b>long</b> CPU",
                                     "kind": "slurm", "request": {"partition": "cpu", "memory": "1G",
                                                                  "walltime": "10h"}})
        hub.profiles.write_text(yaml.safe_dump(document))
        form = hub.login(name).get(f"{hub.url}/hub/spawn/{name}").text
        assert "Run on TACC: &lt;b&gt;long&lt;/b&gt; CPU" in form  # shown, and escaped
        hub.profiles.write_text(original.replace("max_cpus: 8", "max_cpus: eight", 1))
        form = hub.login(name).get(f"{hub.url}/hub/spawn/{name}").text
        assert "the profiles file has an error" in form.lower() and "max_cpus: &#39;eight&#39; is not an integer" in form
        assert "long</b>" not in form and "&lt;b&gt;long" in form  # the last good set is still offered
    finally:
        hub.profiles.write_text(original)


def test_spawn_form_post_starts_the_chosen_profile_with_its_fields_only(hub):
    name = hub.user("vlt-frank")
    browser = hub.login(name)
    browser.get(f"{hub.url}/hub/spawn/{name}")
    response = browser.post(f"{hub.url}/hub/spawn/{name}", allow_redirects=False, data={
        "profile": "tacc-cpu", "tacc-cpu.walltime": "30min", "tacc-a100.gpus": "2", "cmd": "id",
        "_xsrf": browser.cookies.get("_xsrf", path="/hub/")})
    assert response.status_code == 302, response.text
    server = hub.wait_ready(name)
    assert server["user_options"] == {"profile": "tacc-cpu", "walltime": "30min"}
    assert "gpus" not in server["state"]["child_state"] or not server["state"]["child_state"]["gpus"]
    hub.stop_server(name)
