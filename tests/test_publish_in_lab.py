"""Publishing from JupyterLab, in headless Chromium driven by playwright: the Publish command's dialog shows
the chosen job's manifest, publishes it as a signed capsule and says so; a capsule's notebook opens under a
banner that says it is verified, and a copy edited since publication under one that says so."""

from __future__ import annotations

import json
import re
import shutil
import time

import pytest
import requests

from tests.browser import open_lab
from tests.jobs.jobs_fixtures import manifest
from tests.jupyter_process import TOKEN

pytestmark = pytest.mark.timeout(300)
FIRST = "tacc:first/J105007+304037.fits"
AUTH = {"Authorization": f"token {TOKEN}"}


@pytest.fixture
def lab_environment(tmp_path) -> dict:
    return {"JUPYTER_VLASS_KEYS": str(tmp_path / "keys"), "JUPYTER_VLASS_CAPSULES": str(tmp_path / "capsules")}


def run_job(lab: str, doc: dict, until: str) -> str:
    """Submit a manifest over REST and wait until the job reaches ``until``; its id."""
    submitted = requests.post(f"{lab}/vlass/api/jobs", headers=AUTH, timeout=60, data=json.dumps(doc))
    assert submitted.status_code == 201, submitted.text
    job_id = submitted.json()["id"]
    deadline = time.monotonic() + 120
    while requests.get(f"{lab}/vlass/api/jobs/{job_id}", headers=AUTH, timeout=30).json()["state"] != until:
        assert time.monotonic() < deadline
        time.sleep(0.5)
    return job_id


def test_publish_dialog_and_the_capsule_banner(lab, page, area, demo_registry, tmp_path):
    run_job(lab, manifest(area, inputs=[demo_registry.get(FIRST)], parameters={"threshold": 4.0}), "done")

    open_lab(page, lab, TOKEN)
    page.evaluate("() => { window.jupyterapp.commands.execute('jupyter-vlass:publish'); }")  # resolves on close
    preview = page.locator(".jp-VlassPublish-manifest")
    preview.wait_for(timeout=30_000)
    assert FIRST in preview.inner_text() and '"threshold": 4' in preview.inner_text()
    page.locator(".jp-Dialog-button.jp-mod-accept").click()
    result = page.locator(".jp-VlassPublish-result")
    result.wait_for(timeout=60_000)
    capsule_id = re.search(r"capsule ([0-9a-f]{64})", result.inner_text()).group(1)
    assert result.inner_text().startswith("Published:")
    page.locator(".jp-Dialog-button.jp-mod-accept").click()
    assert (tmp_path / "capsules" / capsule_id / "capsule.sig").exists()

    shutil.copyfile(tmp_path / "capsules" / capsule_id / "notebook.ipynb", area / "published.ipynb")
    edited = json.loads((area / "published.ipynb").read_text())
    edited["cells"].append({"cell_type": "markdown", "metadata": {}, "source": "my note", "id": "mine"})
    (area / "edited.ipynb").write_text(json.dumps(edited))
    for name, status in (("published.ipynb", "verified"), ("edited.ipynb", "modified")):
        page.evaluate(f"() => window.jupyterapp.commands.execute('docmanager:open', {{path: '{name}'}})")
        banner = page.locator(f".jp-VlassCapsuleBanner[data-status='{status}']")
        banner.wait_for(timeout=60_000)
        assert capsule_id[:16] in banner.inner_text()

    # A run that failed mid-way is offered as such, and recorded as a failed run, never as a success.
    import nbformat

    nbformat.write(nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("inputs = {}", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("raise RuntimeError('half-way')")],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}),
        area / "fails.ipynb")
    failed_id = run_job(lab, manifest(area, notebook="fails.ipynb"), "failed")
    page.evaluate("() => { window.jupyterapp.commands.execute('jupyter-vlass:publish'); }")
    choice = page.locator(".jp-VlassPublish-job")
    choice.wait_for(timeout=30_000)
    assert "FAILED: recorded as a failed run" in choice.locator(f"option[value='{failed_id}']").inner_text()
    choice.select_option(failed_id)
    page.locator(".jp-Dialog-button.jp-mod-accept").click()
    result = page.locator(".jp-VlassPublish-result[data-status='failed']")
    result.wait_for(timeout=60_000)
    assert result.inner_text().startswith("Recorded as a failed run") and "half-way" in result.inner_text()
    page.locator(".jp-Dialog-button.jp-mod-accept").click()

    # The Published analyses panel: both capsules with their standing, filtered by status; the verified one's fork
    # link leads to this server's fork page, which shows the compatibility report before anything runs.
    page.evaluate("() => window.jupyterapp.commands.execute('jupyter-vlass:open-gallery')")
    entry = page.locator(f".jp-VlassGallery-entry[data-capsule-id='{capsule_id}']")
    entry.wait_for(timeout=30_000)
    assert page.locator(".jp-VlassGallery-summary").inner_text().startswith("2 published analyses")
    assert entry.locator(".jp-VlassGallery-status").inner_text().lower() == "verified" and FIRST in entry.inner_text()
    fork = entry.locator(".jp-VlassGallery-fork").get_attribute("href")
    assert fork.endswith(f"/vlass/fork/{capsule_id}"), fork
    page.select_option(".jp-VlassGallery-statusFilter", "failed")
    page.locator(".jp-VlassGallery-search").click()
    page.wait_for_function(f"() => !document.querySelector(\"[data-capsule-id='{capsule_id}']\")")
    assert page.locator(".jp-VlassGallery-entry .jp-VlassGallery-status").inner_text().lower() == "failed"
    forked = page.context.new_page()
    forked.goto(f"{lab}/vlass/fork/{capsule_id}?token={TOKEN}")
    assert "Compatibility report" in forked.content() and "threshold" in forked.content()
    forked.close()
