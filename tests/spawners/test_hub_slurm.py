"""Spawns through a real JupyterHub onto a real Slurm with fake A100s, as real unix users."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.hub import sacct_jobs, sacct_state, squeue_jobs

pytestmark = pytest.mark.timeout(300)


def _job_id(hub, name: str) -> str:
    return hub.server(name)["state"]["child_state"]["job_id"]


def test_gpu_profile_gives_the_kernel_its_gpu_and_reports_where_it_runs(hub):
    name = hub.user("vlt-alice")
    logs = Path("/home/vlt-alice/vlass-server-logs")
    outside = Path("/home/vlt-alice/keep-me.txt")
    as_alice = ["runuser", "-u", name, "--"]
    older = f"jupyterhub-vlass-9{time.time_ns() % 10**9}.log"  # a job id no earlier run left there
    subprocess.run([*as_alice, "mkdir", "-p", str(logs)], check=True)
    subprocess.run([*as_alice, "sh", "-c", f'echo kept > {outside}; touch -d "30 days ago" {logs}/jupyterhub-vlass-1.log '
                    f"{logs}/notes.txt; ln -sfn {outside} {logs}/jupyterhub-vlass-2.log; touch -h -d '30 days ago' "
                    f"{logs}/jupyterhub-vlass-2.log; touch /home/vlt-alice/{older}"], check=True)  # an older release's
    response = hub.spawn(name, {"profile": "tacc-a100", "gpus": "1", "walltime": "1h", "memory": "2G"})
    assert response.status_code in (201, 202), response.text
    server = hub.wait_ready(name)
    state = server["state"]["child_state"]
    assert state["node"] and state["gpus"] in ("0", "1")
    # The log is in the user's logs folder (not at the top of their home, whence an older release's are moved
    # in); an old one is pruned; a link, a file of another name and what a link points to are left alone.
    assert Path(state["log_path"]).is_file() and Path(state["log_path"]).parent == logs, state["log_path"]
    assert not list(Path("/home/vlt-alice").glob("jupyterhub-vlass-*.log"))
    assert {"jupyterhub-vlass-2.log", older, "notes.txt", Path(state["log_path"]).name} <= \
        {p.name for p in logs.iterdir()} and not (logs / "jupyterhub-vlass-1.log").exists()
    assert outside.read_text() == "kept\n"
    token = hub.token_for(name)
    out = hub.run_in_kernel(name, "import os, getpass; print(os.environ['CUDA_VISIBLE_DEVICES'], "
                                  "os.environ['SLURM_JOB_ID'], getpass.getuser())", token)
    visible, job, user = out.split()
    assert visible == state["gpus"] and job == state["job_id"] and user == "vlt-alice"
    log = open(state["log_path"]).read()
    assert f"job {job} on" in log and f"CUDA_VISIBLE_DEVICES={visible}" in log
    # The server's token is readable by the user's code; with it, the port report sets the port and nothing else.
    server_token = hub.run_in_kernel(name, "import os; print(os.environ['JUPYTERHUB_API_TOKEN'])", token).strip()
    hostile = hub.api("POST", "/batchspawner", headers={"Authorization": f"token {server_token}"},
                      json={"port": 40000, "exec_prefix": "touch /tmp/vlass-pwned-report;"})
    assert hostile.status_code == 400 and "nothing else" in hostile.json()["message"]
    assert hub.api("POST", "/batchspawner", json={"port": 40000}).status_code == 403  # not a server's token
    assert hub.server(name)["ready"] and not os.path.exists("/tmp/vlass-pwned-report")
    hub.stop_server(name)
    assert f"{job}|RUNNING" not in squeue_jobs(name)
    assert sacct_state(name, job) == "CANCELLED"


def test_queued_request_says_why_where_and_offers_faster_profiles(hub):
    first, second = hub.user("vlt-bob"), hub.user("vlt-carol")
    assert hub.spawn(first, {"profile": "tacc-a100", "gpus": "2", "walltime": "1h"}).status_code in (201, 202)
    hub.wait_ready(first)
    try:
        asked = time.monotonic()
        response = hub.spawn(second, {"profile": "tacc-a100", "gpus": "1", "walltime": "1h"})
        assert response.status_code == 202, response.text
        # The offer may come before or after Slurm first gives a reason (it starts at "None"): read both.
        events = hub.events(second, until="would start sooner", timeout=40)
        events += hub.events(second, until="(Resources", timeout=40)
        messages = [e["message"] for e in events]
        [submitted, *_] = [e for e in events if "Submitted job" in e["message"]]  # the progress page links its log
        assert re.search(rf'href="/user/{second}/lab/tree/vlass-server-logs/jupyterhub-vlass-[0-9]+\.log">',
                         submitted["html_message"]), submitted
        pending = [m for m in messages if "pending in gpu-a100" in m]
        assert pending, messages
        assert any("Resources" in m and "position 1 in the queue" in m and "estimated start" in m
                   for m in pending), pending
        faster = [m for m in messages if "would start sooner" in m]
        assert faster and "CPU only" in faster[0] and "A100 x1" not in faster[0].split(":", 1)[1]
        time.sleep(max(0.0, asked + hub.start_timeout + 2 - time.monotonic()))  # past Spawner.start_timeout:
        # queued is not failed
        assert hub.server(second)["pending"] == "spawn"
        # Free the GPUs: the queued server starts without anyone doing anything.
        hub.stop_server(first)
        server = hub.wait_ready(second, timeout=90)
        assert server["state"]["child_state"]["gpus"] in ("0", "1")
    finally:
        hub.stop_server(first)
        hub.stop_server(second)


@pytest.mark.parametrize("field, value, named", [
    ("gpus", "1\n#SBATCH --gres=gpu:a100:2", "gpus:"),
    ("walltime", "$(touch /tmp/vlass-pwned-walltime)", "walltime:"),
    ("memory", "`touch /tmp/vlass-pwned-memory`", "memory:"),
    ("cpus", "1; touch /tmp/vlass-pwned-cpus", "cpus:"),
    ("walltime", "1h\n#SBATCH --uid=0", "walltime:"),
    ("memory", "8G" * 5000, "memory:"),
    ("command", "touch /tmp/vlass-pwned-command", "unknown field 'command'"),
    ("batch_script", "#!/bin/bash\ntouch /tmp/vlass-pwned-script", "unknown field 'batch_script'"),
    ("req_options", "--uid=0", "unknown field 'req_options'"),
    ("exec_prefix", "touch /tmp/vlass-pwned-prefix;", "unknown field 'exec_prefix'"),
    ("profile", "../../etc/passwd", "profile:"),
])
def test_hostile_values_are_refused_naming_the_field_and_nothing_runs(hub, field, value, named):
    name = hub.user("vlt-dave")
    home = set(os.listdir("/home/vlt-dave"))
    before = len(sacct_jobs(name))
    options = {"profile": "tacc-a100", field: value}
    response = hub.spawn(name, options)
    assert response.status_code == 400, response.text
    assert named in response.json()["message"], response.text
    assert hub.server(name) is None
    time.sleep(0.5)
    assert len(sacct_jobs(name)) == before and squeue_jobs(name) == []
    assert set(os.listdir("/home/vlt-dave")) == home
    assert not [p for p in os.listdir("/tmp") if p.startswith("vlass-pwned")]


@pytest.mark.parametrize("options, words", [
    ({"gpus": "3"}, ["gpus: 3 is outside 0..2", "gpu-a100"]),
    ({"walltime": "9h"}, ["walltime: 9 h is above", "maximum of 8 h"]),
    ({"memory": "64G"}, ["memory: 64 GB is above"]),
    ({"nodes": "1"}, ["nodes: this profile does not let users change it"]),
])
def test_over_limit_requests_are_refused_before_submission(hub, options, words):
    name = hub.user("vlt-dave")
    before = len(sacct_jobs(name))
    response = hub.spawn(name, {"profile": "tacc-a100", **options})
    assert response.status_code == 400
    for word in words:
        assert word in response.json()["message"]
    assert len(sacct_jobs(name)) == before


def test_profile_outside_the_users_groups_is_refused(hub):
    name = hub.user("vlt-erin")  # never in gpu-power-users
    response = hub.spawn(name, {"profile": "tacc-a100-x2"})
    assert response.status_code == 400 and "not one of your profiles" in response.json()["message"]


def test_short_allocation_is_refused_with_the_balance(hub):
    name = hub.user("vlt-erin", allocation=2.0)
    response = hub.spawn(name, {"profile": "tacc-a100", "walltime": "1h"})  # 1 node-hour x 4 SU
    assert response.status_code == 403, response.text
    message = response.json()["message"]
    # The spawn charged the ledger from Slurm accounting (any finished job of this project earlier in the
    # session, or on this cluster this week), so the balance said is the granted 2.0 less what was spent.
    balance = hub.service("GET", f"/api/allocations/{name}").json()
    assert balance["granted_su"] == 2.0 and balance["running_su"] == 0 and balance["available_su"] <= 2.0
    assert "may use 4.0 SU" in message and f"project vlt-erin has {balance['available_su']:.1f} SU left" in message
    assert f"granted 2.0, spent {balance['spent_su']:.1f}" in message
    assert squeue_jobs(name) == []


def test_job_cancelled_outside_the_hub_leaves_no_zombie_and_respawn_works(hub):
    name = hub.user("vlt-frank")
    hub.spawn(name, {"profile": "tacc-cpu", "walltime": "30min"})
    hub.wait_ready(name)
    job = _job_id(hub, name)
    subprocess.run(["scancel", job], check=True)
    hub.wait_stopped(name, timeout=60)  # the hub's poll sees the job gone
    assert hub.spawn(name, {"profile": "tacc-cpu", "walltime": "30min"}).status_code in (201, 202)
    assert _job_id(hub, name) != job or hub.wait_ready(name)
    hub.wait_ready(name)
    hub.stop_server(name)


def test_slurmctld_restart_while_pending_and_running_loses_nothing(hub, slurm):
    running, pending = hub.user("vlt-bob"), hub.user("vlt-carol")
    hub.spawn(running, {"profile": "tacc-a100", "gpus": "2", "walltime": "1h"})
    hub.wait_ready(running)
    try:
        assert hub.spawn(pending, {"profile": "tacc-a100", "gpus": "1", "walltime": "1h"}).status_code == 202
        hub.events(pending, until="pending in gpu-a100", timeout=30)
        running_job = _job_id(hub, running)
        slurm.restart_controller()
        time.sleep(5)  # more than two hub polls
        assert hub.server(running)["ready"] and _job_id(hub, running) == running_job
        assert hub.server(pending)["pending"] == "spawn"
        token = hub.token_for(running)
        assert hub.run_in_kernel(running, "print(1 + 1)", token).strip() == "2"
        hub.stop_server(running)
        hub.wait_ready(pending, timeout=90)
    finally:
        hub.stop_server(running)
        hub.stop_server(pending)


def test_hub_restart_reattaches_running_servers(hub):
    name = hub.user("vlt-alice")
    hub.spawn(name, {"profile": "tacc-a100", "walltime": "1h"})
    server = hub.wait_ready(name)
    job = server["state"]["child_state"]["job_id"]
    hub.restart()
    after = hub.server(name)
    assert after is not None and after["ready"] and after["state"]["child_state"]["job_id"] == job
    token = hub.token_for(name)
    assert hub.run_in_kernel(name, "print('still here')", token).strip() == "still here"
    hub.stop_server(name)
    assert f"{job}|RUNNING" not in squeue_jobs(name)


def test_local_profile_runs_beside_the_slurm_ones_without_a_job(hub):
    name = hub.user("vlt-erin")
    assert hub.spawn(name, {"profile": "local"}).status_code in (201, 202)
    server = hub.wait_ready(name)
    assert "job_id" not in server["state"].get("child_state", {})
    out = hub.run_in_kernel(name, "import os, getpass; print(getpass.getuser(), 'SLURM_JOB_ID' in os.environ)",
                            hub.token_for(name))
    assert out.split() == ["vlt-erin", "False"]
    hub.stop_server(name)


def test_queue_timeout_cancels_the_job_and_says_why(hub):
    name = hub.user("vlt-frank")
    blocker = subprocess.run(["sbatch", "--parsable", "-p", "gpu-a100", "--gres=gpu:a100:2", "-o", "/dev/null",
                              "--wrap", "sleep 600"], capture_output=True, text=True, check=True).stdout.strip()
    hub.stop()
    hub.start(VLASS_QUEUE_TIMEOUT="6")
    try:
        response = hub.spawn(name, {"profile": "tacc-a100", "walltime": "1h"})
        # 6 s is shorter than the hub's slow_spawn_timeout, so the REST call itself carries the failure.
        assert response.status_code == 500
        final = response.json()["message"]
        assert "waited 6 s in the queue" in final and "Resources" in final and "was cancelled" in final
        job = re.search(r"Job (\d+) waited", final).group(1)
        hub.wait_stopped(name, timeout=30)
        assert f"{job}|PENDING" not in squeue_jobs(name)
    finally:
        subprocess.run(["scancel", blocker])
        hub.restart()


JSON_VALUES = [None, True, -1, 2.5, [], ["tacc-a100"], {}, {"name": "tacc-a100"}, "", "x" * 5000]
SPAWN_FIELDS = ["profile", "partition", "gpu_type", "gpus", "cpus", "memory", "nodes", "walltime", "image"]


@pytest.mark.parametrize("profile", ["tacc-a100", "local"])
def test_every_spawn_field_with_every_json_type_is_a_400_naming_it(hub, profile):
    """A hostile body (any JSON type in any field, for either kind of profile) never starts anything
    and never crashes the spawner: each gets a 400 whose message names the field."""
    name = hub.user("vlt-grace")
    before = len(sacct_jobs(name))
    tried = 0
    for field in SPAWN_FIELDS:
        for value in JSON_VALUES:
            if field == "profile" and value in (None, ""):
                continue  # no profile named: the first one is used (as in JupyterHub's form)
            body = {"profile": profile, field: value} if field != "profile" else {field: value}
            response = hub.spawn(name, body)
            tried += 1
            assert response.status_code == 400, (body, response.status_code, response.text)
            message = response.json()["message"]
            assert message.split(":")[0].strip().strip("'") == field or f"'{field}'" in message, (body, message)
            assert hub.server(name) is None, body
    assert tried > 80
    assert len(sacct_jobs(name)) == before and squeue_jobs(name) == []
