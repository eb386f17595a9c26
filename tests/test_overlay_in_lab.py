"""The consensus overlay in JupyterLab, in headless Chromium with no way out to the internet: Aladin Lite
comes from the labextension, the sky from a HiPS made with ``reproject_to_hips`` from the sample tile and
served by the server; the agree (green) and conflict (yellow) layers are drawn on it (checked in a
screenshot), the single-run toggle leaves one run's layer, and a click on a detection shows its details
and records the expert's vote in the review database."""

from __future__ import annotations

import warnings

import nbformat
import pytest

from jupyter_vlass.models.classical import ClassicalDetector
from jupyter_vlass.models.consensus import Run, aggregate
from jupyter_vlass.models.images import open_image
from jupyter_vlass.review.review import Review
from jupyter_vlass.sample_data import build_hips
from tests.browser import open_lab
from tests.jupyter_process import TOKEN
from tests.overlay_steps import click_and_vote, layers_drawn, one_run_alone, watch_page

pytestmark = pytest.mark.timeout(400)
BEAM_DEG = 2.5 / 3600
TILE = "vlass:VLASS2.2.ql.T08t20.J135700-180000"


@pytest.fixture
def lab_environment(demo_registry) -> dict:
    return {"JUPYTER_VLASS_DB": demo_registry.engine.url.render_as_string(hide_password=False)}


@pytest.fixture
def recorded(demo_registry, sample_data, area, tmp_path):
    """Two runs on the sample tile (the classical detector at 5σ and 7σ), their consensus in the review
    database, the runs' tables beside the notebook, and a source whose HiPS is the tile's."""
    record = demo_registry.get(TILE, "v1")
    tile = open_image(sample_data["tile_v1"])
    runs = [Run("classical", "1.0.0", "local", ClassicalDetector().detect(tile)),
            Run("classical-7sigma", "1.0.0", "slurm", ClassicalDetector(threshold=7.0).detect(tile))]
    for run in runs:
        run.detections.write(area / f"{run.model}.ecsv", overwrite=True)
    review = Review(demo_registry.Session)
    result = review.record(dataset_id=TILE, version=record.version, user="alice",
                           consensus=aggregate(runs, radius_deg=BEAM_DEG))
    hips = build_hips(sample_data["tile_v1"], tmp_path / "hips")
    demo_registry.add_source("tilesky", "vlass", str(sample_data["vlass"]), options={"hips": str(hips)})
    return review, result, runs


def test_overlay_layers_toggle_click_and_vote(lab, page, area, recorded, tmp_path):
    review, result, runs = recorded
    code = "\n".join([
        "from astropy.table import Table",
        "from jupyter_vlass.models.consensus import Run",
        "from jupyter_vlass.review.review import review",
        "from jupyter_vlass.widgets.overlay import ConsensusViewer",
        f"runs = [Run(m, '1.0.0', s, Table.read(f'{{m}}.ecsv')) for m, s in {[(r.model, r.site) for r in runs]!r}]",
        "board = review()",
        f"viewer = ConsensusViewer(board.latest({TILE!r}), runs, review=board, survey='/vlass/hips/tilesky')",
        "viewer"])
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)], metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}), area / "overlay.ipynb")
    try:
        _layers_toggle_click_and_vote(page, lab, area, review, tmp_path)
    except Exception as error:
        log = (tmp_path / "jupyterlab.log").read_text(errors="replace")
        if "restarting kernel" not in log:
            raise
        # The notebook's kernel crashed (seen rarely, under load: heap corruption in the interpreter; its
        # faulthandler trace is in the log). Say so, and go through it all once more in a fresh page.
        crash = log[log.find("Fatal Python error"):][:4000] if "Fatal Python error" in log else log[-2000:]
        warnings.warn(f"the overlay notebook's kernel crashed; once more. {error!r}\n{crash}")
        page.goto("about:blank")
        _layers_toggle_click_and_vote(page, lab, area, review, tmp_path)


def _layers_toggle_click_and_vote(page, lab, area, review, tmp_path) -> None:
    open_lab(page, lab, TOKEN)
    seen = watch_page(page, lab, "/vlass/hips/tilesky/")
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:open', {path: 'overlay.ipynb'})")
    page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=60_000)
    page.evaluate("""async () => {
        const panel = window.jupyterapp.shell.currentWidget;
        await panel.sessionContext.ready;
        await window.jupyterapp.commands.execute('notebook:run-all-cells');
    }""")
    layers_drawn(page, seen)
    one_run_alone(page, "classical@local")
    try:
        click_and_vote(page, area, lambda: review.latest(TILE), ["classical@local", "classical-7sigma@slurm"])
    except AssertionError as error:
        log = (tmp_path / "jupyterlab.log").read_text(errors="replace")
        raise AssertionError((str(error), seen["console"][-20:], log[-3000:])) from error
