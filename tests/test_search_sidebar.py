"""The dataset search sidebar in JupyterLab, in headless Chromium: in the left sidebar in JupyterLab's own
look, its page size from the settings registry, source status and latency, pages that put together are the
full ranked list, a region in the Galactic frame, a bad region as a notification, code to open a result
inserted into the notebook (and run there), and the region of the current Aladin view."""

from __future__ import annotations

import json

import nbformat
import pytest
import requests
from astropy.coordinates import SkyCoord

from tests.browser import open_lab, run_in_kernel
from tests.jupyter_process import TOKEN

pytestmark = pytest.mark.timeout(300)
AUTH = {"Authorization": f"token {TOKEN}"}
REGION = "209.25,-18.0,0.5"


@pytest.fixture
def lab_environment(demo_registry) -> dict:
    return {"JUPYTER_VLASS_DB": demo_registry.engine.url.render_as_string(hide_password=False)}


def _hits(page) -> list[str]:
    return page.locator(".jp-VlassSearch-hit").evaluate_all("nodes => nodes.map(n => n.dataset.datasetId + '@' + "
                                                            "n.dataset.version)")


def _wait_page(page, first: int) -> None:
    try:
        _wait_for_page(page, first)
    except Exception as error:  # say what the sidebar and the notifications show
        shown = page.evaluate("() => [document.querySelector('.jp-VlassSearch').dataset.state, "
                              "document.querySelector('.jp-VlassSearch-output').innerText, "
                              "[...document.querySelectorAll('.Toastify__toast')].map(t => t.innerText), "
                              "document.body.innerText.slice(-200)]")
        shown.append(getattr(page, "console_messages", [])[-5:])
        raise AssertionError(f"page from {first} not shown: {shown}") from error


def _wait_for_page(page, first: int) -> None:
    page.wait_for_function("(first) => { const n = document.querySelector('.jp-VlassSearch-count');"
                           " return n && n.textContent.startsWith(first + '–') && "
                           "document.querySelector('.jp-VlassSearch').dataset.state === 'done'; }", arg=first,
                           timeout=30_000)


def _fill(page, lon, lat, radius, frame="icrs") -> None:
    page.fill(".jp-VlassSearch-lon", str(lon))
    page.fill(".jp-VlassSearch-lat", str(lat))
    page.fill(".jp-VlassSearch-radius", str(radius))
    page.select_option(".jp-VlassSearch-frame", frame)
    page.click(".jp-VlassSearch-submit")


def test_search_sidebar(lab, page, area):
    # The page size comes from the settings registry (saved as a user would in the Settings Editor).
    schema = requests.get(f"{lab}/lab/api/settings/jupyter-vlass:plugin", headers=AUTH, timeout=30).json()
    assert schema["schema"]["properties"]["pageSize"]["default"] == 25
    saved = requests.put(f"{lab}/lab/api/settings/jupyter-vlass:plugin", headers=AUTH, timeout=30,
                         data=json.dumps({"raw": json.dumps({"pageSize": 2})}))
    assert saved.status_code == 204, saved.text
    full = requests.get(f"{lab}/vlass/api/datasets", params={"region": REGION}, headers=AUTH, timeout=60).json()
    ranked = [f"{d['id']}@{d['version']}" for d in full["datasets"]]
    assert len(ranked) >= 5

    nbformat.write(nbformat.v4.new_notebook(metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}}), area / "find.ipynb")
    console = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"[:400]) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: console.append(f"pageerror: {e}"[:400]))
    page.console_messages = console
    open_lab(page, lab, TOKEN)
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:open', {path: 'find.ipynb'})")
    page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=60_000)
    page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.ready")

    # The sidebar is a tab of the left area, and takes JupyterLab's look.
    page.locator(".jp-SideBar.jp-mod-left [data-id='jupyter-vlass-search']").click()
    sidebar = page.locator("#jupyter-vlass-search")
    sidebar.wait_for(state="visible", timeout=30_000)
    look = page.evaluate("""() => {
        const root = getComputedStyle(document.body), side = document.getElementById('jupyter-vlass-search');
        const input = side.querySelector('.jp-VlassSearch-lon');
        const probe = document.createElement('div');
        probe.style.background = 'var(--jp-layout-color1)'; probe.style.fontFamily = 'var(--jp-ui-font-family)';
        document.body.append(probe);
        const want = getComputedStyle(probe); const result = {
            panel: getComputedStyle(side).backgroundColor === want.backgroundColor,
            font: getComputedStyle(input).fontFamily === want.fontFamily,
            styled: input.classList.contains('jp-mod-styled'), left: !!side.closest('#jp-left-stack')};
        probe.remove(); return result; }""")
    assert look == {"panel": True, "font": True, "styled": True, "left": True}, look

    # Pages of two: status and latency per source, and the pages together are the full ranking.
    _fill(page, 209.25, -18.0, 0.5)
    _wait_page(page, 1)
    chips = page.locator(".jp-VlassSearch-source").all_inner_texts()
    assert {c.split()[0] for c in chips} == {s["name"] for s in full["sources"]}
    assert all(c.endswith(" ms") for c in chips), chips
    assert f"of {len(ranked)} in " in page.locator(".jp-VlassSearch-count").inner_text()
    seen, starts = _hits(page), [1]
    assert len(seen) == 2 and page.locator(".jp-VlassSearch-previous").is_disabled()
    while not page.locator(".jp-VlassSearch-next").is_disabled():
        page.click(".jp-VlassSearch-next")
        starts.append(starts[-1] + 2)
        _wait_page(page, starts[-1])
        seen += _hits(page)
    assert seen == ranked and len(starts) >= 3
    page.click(".jp-VlassSearch-previous")
    _wait_page(page, starts[-2])
    assert _hits(page) == ranked[starts[-2] - 1:starts[-2] + 1]
    first_page = ranked[:2]

    # The same cone given in Galactic coordinates finds the same first page.
    gal = SkyCoord(209.25, -18.0, unit="deg").galactic
    _fill(page, f"{gal.l.deg:.8f}", f"{gal.b.deg:.8f}", 0.5, "galactic")
    _wait_page(page, 1)
    assert _hits(page) == first_page

    # A bad region: a JupyterLab notification with the server's message.
    _fill(page, 209.25, -18.0, 0)
    page.locator(".Toastify__toast", has_text="radius must be in (0, 180]").wait_for(timeout=30_000)

    # Code to open the top result goes into the notebook, and opens the pinned bytes when run there.
    _fill(page, 209.25, -18.0, 0.5)
    _wait_page(page, 1)
    top_id, top_version = ranked[0].rsplit("@", 1)
    page.locator(".jp-VlassSearch-hit").first.locator(".jp-VlassSearch-insert").click()
    cell = page.locator(".jp-Notebook .jp-Cell", has_text="registry.get(")
    cell.wait_for(timeout=30_000)
    source = page.evaluate("() => window.jupyterapp.shell.currentWidget.content.activeCell.model.sharedModel"
                           ".getSource()")
    assert f"registry.get({top_id!r}, version={top_version!r})" in source and "# Cite: " in source, source
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-cell')")
    try:
        # a data package prints its title and resources; a FITS image, its HDUs
        opened = "resources" if top_id.startswith("curated:") else "PrimaryHDU"
        cell.locator(".jp-OutputArea-output", has_text=opened).wait_for(timeout=90_000)
    except Exception as error:
        raise AssertionError(f"the inserted code did not open the file: {cell.inner_text()[-1500:]}") from error

    # "Use Aladin view": the region the notebook's Aladin view shows, searched at once.
    run_in_kernel(page, "\n".join([
        "from jupyter_vlass.widgets.overlay import _offline_aladin_class",
        "from jupyter_vlass.widgets.views import watch",
        "view = _offline_aladin_class()(target='209.3 -18.05', fov=0.8)",
        "watch(view)"]))
    _fill(page, 10, 10, 1)
    _wait_page(page, 0)
    page.click(".jp-VlassSearch-useView")
    page.wait_for_function("() => document.querySelector('.jp-VlassSearch-lon').value === '209.300000'",
                           timeout=30_000)
    _wait_page(page, 1)
    assert page.input_value(".jp-VlassSearch-lat") == "-18.050000"
    assert float(page.input_value(".jp-VlassSearch-radius")) == pytest.approx(0.4)
    assert _hits(page)
