"""The spawn form (escaping, field read-back) and the shared poller (one squeue per interval)."""

import asyncio

from jupyter_vlass.compute.profiles import load_profiles, parse_profiles
from jupyter_vlass.compute.scheduler import parse_squeue
from tests.services import REPO
from vlass_spawners.forms import options_from_form, render_form
from vlass_spawners.poller import SchedulerPoller, shared_poller

PROFILES = load_profiles(REPO / "hub_config" / "profiles.yaml")


def test_form_escapes_admin_and_estimate_text():
    document = {"partitions": {"cpu": {"max_walltime": "1h", "max_memory": "1G", "max_cpus": 1}},
                "profiles": [{"name": "x", "display_name": "<script>alert(1)</script>", "kind": "slurm",
                              "request": {"partition": "cpu", "memory": "1G", "walltime": "1h"},
                              "user_settable": ["walltime"]}]}
    html = render_form(list(parse_profiles(document).profiles), estimates={"x": "<b>now</b>"})
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)" in html and "&lt;b&gt;now&lt;/b&gt;" in html


def test_each_field_says_its_limits_and_only_the_chosen_profile_shows(page):
    """In Chromium: each field's limits come from its profile's partition; picking a profile shows its fields
    alone; the same form without JavaScript still shows (and submits) every profile's."""
    html = render_form(list(PROFILES.profiles), estimates={"tacc-a100": "in about 5 min"})
    a100 = PROFILES.get("tacc-a100", groups=[])
    limits = a100.policy.partitions[a100.policy.defaults.partition]
    page.set_content(f"<form>{html}</form>")
    hint = page.inner_text("#tacc-a100-gpus-limit")
    assert f"0 to {limits.max_gpus} per node" in hint and f"default {a100.policy.defaults.gpus}" in hint, hint
    assert "in about 5 min" in page.inner_text("#vlass-profile")
    slurm = [p.name for p in PROFILES.profiles if p.policy and p.policy.user_settable]
    for chosen in slurm:
        page.select_option("#vlass-profile", chosen)
        shown = [f.get_attribute("data-profile") for f in page.query_selector_all(".vlass-fields") if f.is_visible()]
        assert shown == [chosen], (chosen, shown)
    without_scripts = html.split("<script>")[0]  # what a browser that runs no script renders
    page.set_content(f"<form>{without_scripts}</form>")
    assert len([f for f in page.query_selector_all(".vlass-fields") if f.is_visible()]) == len(slurm) > 1


def test_form_fields_are_read_back_only_for_the_chosen_profile():
    form = {"profile": ["tacc-a100"], "tacc-a100.gpus": ["2"], "tacc-a100.walltime": [""],
            "tacc-cpu.memory": ["1G"], "evil": ["x"]}
    assert options_from_form(form, PROFILES) == {"profile": "tacc-a100", "gpus": "2"}


class CountingSite:
    """Answers squeue from a fixed text and counts the calls (stands in for Slurm in this unit test)."""

    def __init__(self):
        self.calls = 0

    async def queue(self, *, job_name=None):
        self.calls += 1
        await asyncio.sleep(0.01)
        return parse_squeue("42|PENDING|Resources|gpu-a100|1|N/A||u|jupyterhub-vlass|0:00\n")


def test_many_waiters_share_one_squeue_per_interval():
    async def scenario():
        site = CountingSite()
        poller = SchedulerPoller(site, interval=0.2, job_name="jupyterhub-vlass")
        for _ in range(5):
            states = await asyncio.gather(*(poller.state(str(40 + i % 3)) for i in range(50)))
            assert states[2][0].reason == "Resources" and states[0][0] is None
            await asyncio.sleep(0.2)
        for job in ("40", "41", "42"):
            poller.unwatch(job)
        return site.calls

    calls = asyncio.run(scenario())
    assert calls <= 7  # 5 intervals (+ the loop's own ticks), not 250 calls


def test_one_poller_per_hub_and_settings_kept_in_the_hubs_own_settings():
    hub_a, hub_b = {}, {}
    first = shared_poller(hub_a, exec_prefix=("sudo",), interval=5.0, job_name="jupyterhub-vlass")
    assert shared_poller(hub_a, exec_prefix=("sudo",), interval=5.0, job_name="jupyterhub-vlass") is first
    assert shared_poller(hub_a, exec_prefix=("sudo",), interval=2.0, job_name="jupyterhub-vlass") is not first
    assert shared_poller(hub_b, exec_prefix=("sudo",), interval=5.0, job_name="jupyterhub-vlass") is not first
