"""The dataset browser widget (region -> sources -> dataset)."""

import pytest

from jupyter_vlass.widgets import DatasetBrowser


def test_browser_search_pick_and_cite(demo_registry):
    browser = DatasetBrowser(demo_registry, region="209.25,-18.0,0.5")
    assert set(browser.sources.options) == {"vlass", "curated", "tacc"}
    browser.sources.value = ("vlass", "curated")
    browser.button.click()
    assert len(browser.result) == 4
    assert {h.source for h in browser.result} == {"vlass", "curated"}
    assert browser.selected is browser.result.hits[0]
    browser.datasets.value = 1
    assert browser.result.hits[1].sha256 in browser.citation.value
    assert "<table>" in browser.table.value


def test_browser_shows_bad_region_instead_of_raising(demo_registry):
    browser = DatasetBrowser(demo_registry, region="500,0,1")
    assert browser.search() is None
    assert "RA must be in" in browser.message.value


def test_job_launcher_toggles_sites_submits_and_monitors(demo_registry, area, job_env, job_accounts):
    from jupyter_vlass.jobs.jobs import Jobs
    from jupyter_vlass.compute.profiles import load_profiles
    from jupyter_vlass.jobs.sites import LocalSite, SlurmJobSite
    from jupyter_vlass.widgets import JobLauncher
    from tests.hub import JOB_ENV
    from tests.services import REPO

    sites = {"local": LocalSite(python=str(JOB_ENV / "bin" / "python"), account=job_accounts[0]),
             "slurm": SlurmJobSite(environment=str(JOB_ENV), account=job_accounts[0])}
    jobs = Jobs(demo_registry, sites=sites, root=area, owner="alice", jobs_dir=area / "jobs",
                profiles=load_profiles(REPO / "hub_config" / "profiles.yaml"))
    launcher = JobLauncher(jobs, inputs=["tacc:first/J105007+304037.fits"], parameters={"threshold": 4.0})
    assert [label for label, _ in launcher.site.options] == ["Run on Local GPU", "Run on TACC (Slurm)"]
    assert launcher.profile.layout.display == "none" and "tacc-a100" in launcher.profile.options
    launcher.site.value = "slurm"
    assert launcher.profile.layout.display is None
    launcher.site.value = "local"

    launcher.parameters.value = "{not json"
    launcher.button.click()
    assert launcher.job is None and "color:#b00" in launcher.monitor.value

    launcher.parameters.value = '{"threshold": 4.0}'
    assert launcher.staging.layout.display == "none"
    launcher.button.click()
    assert launcher.job is not None and not launcher.cancel_button.disabled or launcher.job.state == "done"
    assert launcher.staging.layout.display is None and launcher.staging.value == 1.0  # the input staged, shown
    launcher.job.wait(timeout=180)
    status = launcher.refresh()
    assert status["state"] == "done" and "done" in launcher.monitor.value and "catalogue.ecsv" in launcher.monitor.value
    assert launcher.cancel_button.disabled


def test_current_aladin_view_is_the_one_moved_last():
    from jupyter_vlass.widgets.overlay import _offline_aladin_class
    from jupyter_vlass.widgets.views import current_view, watch

    first = _offline_aladin_class()(target="209.25 -18.0", fov=0.5)
    second = _offline_aladin_class()(target="10 20", fov=2)
    watch(first)
    watch(second)
    assert current_view()._repr_json_() == {"ra": 10.0, "dec": 20.0, "fov": 2.0}
    first._target = "200.5 -10.25"  # what ipyaladin's frontend sets when the user pans
    view = current_view()
    assert view._repr_json_() == {"ra": 200.5, "dec": -10.25, "fov": 0.5}
    assert view.region().radius_deg == pytest.approx(0.25) and view.region().ra_deg == pytest.approx(200.5)
    first.close()
    assert current_view() is None  # the view moved last is gone
    second.close()
