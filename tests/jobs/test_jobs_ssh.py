"""Slurm reached through a login node over SSH (a real sshd on 127.0.0.1): the analysis job is submitted,
watched and cancelled with the scheduler commands run on the login node as the user's cluster account;
every word of those commands is quoted for the remote shell; a login node that does not answer is a
scheduler that does not answer."""

from __future__ import annotations

import asyncio
import time

import pytest

from jupyter_vlass.jobs.jobs import Jobs
from jupyter_vlass.compute.profiles import load_profiles
from jupyter_vlass.jobs.sites import SlurmJobSite, sites_from_config
from jupyter_vlass.compute.ssh import LoginNode
from jupyter_vlass.exceptions import InvalidRequest
from tests.jobs.jobs_fixtures import manifest, slow_notebook
from tests.hub import JOB_ENV, sacct_state
from tests.services import REPO, free_port

pytestmark = pytest.mark.timeout(300)
PROFILES = REPO / "hub_config" / "profiles.yaml"


def test_login_node_settings_are_checked(job_accounts):
    good = {"host": "login1.frontera.tacc.utexas.edu", "port": 22, "user": "alice"}
    assert LoginNode.from_config(good, where="s", default_user=None).argv()[-2:] == [good["host"], "--"]
    for bad in ({"host": "-oProxyCommand=touch /tmp/x"}, {"host": "a b"}, {"user": "root;id"}, {"port": "22"},
                {"port": 0}, {"identity_file": "id_rsa"}, {"known_hosts_file": "/tmp/a\nb"}, {"jump": "x"}):
        with pytest.raises(InvalidRequest, match=r"job sites\.tacc\.ssh"):
            sites_from_config({"tacc": {"kind": "slurm", "environment": "/opt/env", "ssh": {**good, **bad}}},
                              account=job_accounts[0])


def test_a_job_runs_on_slurm_through_the_login_node(slurm, job_env, job_accounts, area, demo_registry,
                                                    login_node, tmp_path):
    site = SlurmJobSite("tacc", environment=str(JOB_ENV), account=job_accounts[0], poll_interval=1.0,
                        ssh=login_node.settings)
    jobs = Jobs(demo_registry, sites={"tacc": site}, root=area, owner="alice", jobs_dir=area / "jobs",
                profiles=load_profiles(PROFILES))
    job = jobs.submit(manifest(area, site="tacc", profile="tacc-cpu", notebook=slow_notebook(area),
                               parameters={"seconds": 1}))
    status = job.wait(timeout=180).status()
    assert status["state"] == "done", (status, job.log())
    assert sacct_state(job_accounts[0], status["site_job_id"]) == "COMPLETED"  # Slurm ran it as the account
    assert login_node.logins() >= 2  # sbatch and squeue went through the login node

    # Every word is quoted for the remote shell: metacharacters reach the command as text.
    marker = tmp_path / "injected"
    marker_text = f"x; touch {marker} $(touch {marker}) `touch {marker}`"
    echoed = asyncio.run(site.slurm._run(["echo", marker_text]))
    assert echoed.stdout.strip() == marker_text and not marker.exists()

    # Cancel goes over SSH too.
    slow = jobs.submit(manifest(area, site="tacc", profile="tacc-cpu", notebook=slow_notebook(area),
                                parameters={"seconds": 120}))
    deadline = time.monotonic() + 120
    while slow.state != "running" and time.monotonic() < deadline:
        time.sleep(0.5)
    assert slow.cancel().status()["state"] == "cancelled"
    assert sacct_state(job_accounts[0], slow.status()["site_job_id"]) == "CANCELLED"


def test_a_login_node_that_does_not_answer_keeps_the_last_state(job_accounts, login_node):
    closed = {**login_node.settings, "port": free_port()}
    site = SlurmJobSite("tacc", environment=str(JOB_ENV), account=job_accounts[0], ssh=closed)
    [state] = site.states(["12345"]).values()
    assert state.state == "unknown" and "login node did not answer" in state.detail
