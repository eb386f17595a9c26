"""The Jobs panel in JupyterLab, in headless Chromium driven by playwright: the user's jobs listed with state and reason, a
finished job's result files and log, a running job cancelled from the panel, the server logs folder one click
away, an error of the server's a notification with its message."""

from __future__ import annotations

import json
import re

import pytest
import requests

from tests.browser import open_lab
from tests.jobs.jobs_fixtures import manifest, slow_notebook
from tests.jupyter_process import TOKEN

pytestmark = pytest.mark.timeout(300)
FIRST = "tacc:first/J105007+304037.fits"


def _post(lab, doc) -> dict:
    response = requests.post(f"{lab}/vlass/api/jobs", data=json.dumps(doc), timeout=60,
                             headers={"Authorization": f"token {TOKEN}"})
    assert response.status_code == 201, response.text
    return response.json()


def test_jobs_panel_lists_shows_results_and_cancels(lab, page, area, demo_registry):
    logs = area / "vlass-server-logs"  # what the hub's Slurm spawner leaves in the home (the server's root here)
    logs.mkdir()
    (logs / "jupyterhub-vlass-4242.log").write_text("job 4242 on node c1\n")
    finished = _post(lab, manifest(area, inputs=[demo_registry.get(FIRST)], parameters={"threshold": 4.0}))
    running = _post(lab, manifest(area, notebook=slow_notebook(area), parameters={"seconds": 120}))
    open_lab(page, lab, TOKEN)
    page.evaluate("() => window.jupyterapp.commands.execute('jupyter-vlass:open-jobs')")
    rows = page.locator(".jp-VlassJobs-row")
    rows.first.wait_for(timeout=30_000)
    assert rows.count() == 2
    done_row = page.locator(f"tr[data-job-id='{finished['id']}']")
    done_row.locator("td", has_text=re.compile("^done$")).wait_for(timeout=120_000)  # refreshed every 3 s
    # no GPUs and no walltime limit on the local site: the time it took alone
    assert done_row.locator(".jp-VlassJobs-gpus").inner_text() == "–"
    assert re.fullmatch(r"\d+:\d\d", done_row.locator(".jp-VlassJobs-time").inner_text())
    done_row.click()
    files = page.locator(".jp-VlassJobs-files")
    files.wait_for(timeout=30_000)
    assert "catalogue.ecsv" in files.inner_text()
    assert page.locator(".jp-VlassJobs-log").inner_text().strip()

    running_row = page.locator(f"tr[data-job-id='{running['id']}']")
    running_row.locator("td", has_text=re.compile("^running$")).wait_for(timeout=60_000)
    running_row.click()
    page.locator(".jp-VlassJobs-cancel").click()
    page.locator(f"tr[data-job-id='{running['id']}'] td", has_text=re.compile("^cancelled$")).wait_for(timeout=30_000)
    status = requests.get(f"{lab}/vlass/api/jobs/{running['id']}", headers={"Authorization": f"token {TOKEN}"},
                          timeout=30).json()
    assert status["state"] == "cancelled" and status["reason"] == "cancelled by you"

    # The server logs link opens the logs folder in the file browser.
    page.locator(".jp-VlassJobs-serverLogs").click()
    page.locator(".jp-DirListing-item", has_text="jupyterhub-vlass-4242.log").wait_for(timeout=30_000)
    # An error of the server's is a JupyterLab notification with its message, told once, not at every refresh.
    page.evaluate("""() => { window.vlassToasts = 0; new MutationObserver(changes => changes.forEach(c =>
        c.addedNodes.forEach(n => { if (n.nodeType === 1 && (n.matches('.Toastify__toast') ||
            n.querySelector('.Toastify__toast')) && n.textContent.includes('Slurm is not answering'))
            window.vlassToasts += 1; }))).observe(document.body, {childList: true, subtree: true}); }""")
    page.route(re.compile(r".*/vlass/api/jobs(\?.*)?$"), lambda route: route.fulfill(
        status=503, content_type="application/json",
        body=json.dumps({"message": "Slurm is not answering (maintenance)", "reason": "scheduler_unavailable"})))
    page.locator(".Toastify__toast", has_text="Slurm is not answering (maintenance)").wait_for(timeout=30_000)
    page.wait_for_timeout(7_000)  # two more refreshes fail the same way
    assert page.evaluate("() => window.vlassToasts") == 1
    assert "Slurm is not answering (maintenance)" in page.inner_text(".jp-VlassJobs-status")
    page.unroute(re.compile(r".*/vlass/api/jobs(\?.*)?$"))
