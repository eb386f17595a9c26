"""Consensus of real detection runs on a full-size tile with a known truth: agreement and conflict, a score
with its uncertainty, a high-confidence selection, a failed run named and left out, the discrepancy between
two sites' runs of one model as a number."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.coordinates import SkyCoord

from jupyter_vlass.models.classical import ClassicalDetector
from jupyter_vlass.models.consensus import Run, aggregate
from jupyter_vlass.models.detections import score
from jupyter_vlass.models.images import open_image
from jupyter_vlass.models.synthetic import make_tile, write_tile
from tests.models.conftest import BEAM_DEG

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def runs(full_tile):
    path, truth = full_tile
    image = open_image(path)
    loose, strict = ClassicalDetector().detect(image), ClassicalDetector(threshold=7.0).detect(image)
    return truth, loose, strict


def test_agreement_score_and_the_high_confidence_selection(runs):
    truth, loose, strict = runs
    result = aggregate([Run("classical", "1.0.0", "local", loose), Run("classical-7sigma", "1.0.0", "local", strict),
                        Run("cnn", "0.1.0", "slurm", None, error="timed out after 600 s")],
                       radius_deg=BEAM_DEG)
    table, summary = result.table, result.summary()
    assert summary["failed"] == [{"run": "cnn@slurm", "model": "cnn", "site": "slurm", "reason": "timed out after 600 s"}]
    assert [r["run"] for r in summary["runs"]] == ["classical@local", "classical-7sigma@local"]
    assert summary["agree"] > 50 and summary["conflict"] > 0 and summary["single"] == 0, summary
    # Conflicts are the detections between 5 and 7 sigma that only the loose run reports.
    conflicts = table[table["agreement"] == "conflict"]
    assert all(s == "classical@local" for s in conflicts["seen_by"])
    assert np.all((table["score"] >= 0) & (table["score"] <= 1)) and np.all(table["score_err"] >= 0)
    assert np.all(table["score"][table["agreement"] == "conflict"] < 0.6)
    chosen = table[table["high_confidence"]]
    assert len(chosen) > 50 and set(chosen["agreement"]) == {"agree"}
    # The selection for publication is real sources: every high-confidence one matches the injected truth.
    chosen["kind"] = "source"
    assert score(chosen, truth, radius_deg=BEAM_DEG)["precision"] >= 0.97


def test_site_discrepancy_is_a_number_and_sees_a_run_that_differs(runs):
    _, loose, strict = runs
    same = aggregate([Run("classical", "1.0.0", "local", loose), Run("classical", "1.0.0", "slurm", loose.copy())],
                     radius_deg=BEAM_DEG)
    assert same.site_discrepancy["classical"]["fraction"] == 0.0 and same.site_discrepancy["classical"]["compared"] > 0
    lost = loose.copy()
    brightest = np.argsort(-np.asarray(lost["snr"]))[:5]
    lost.remove_rows(brightest)  # the Slurm run misses five of the brightest sources
    differ = aggregate([Run("classical", "1.0.0", "local", loose), Run("classical", "1.0.0", "slurm", lost),
                        Run("classical-7sigma", "1.0.0", "local", strict)], radius_deg=BEAM_DEG)
    found = differ.site_discrepancy["classical"]
    assert found["discrepant"] == 5 and found["fraction"] == pytest.approx(5 / found["compared"], abs=1e-4), found


def test_nothing_to_aggregate_is_an_empty_answer_not_an_error():
    result = aggregate([Run("classical", "1.0.0", "local", None, error="crashed: exit 137")], radius_deg=BEAM_DEG)
    assert len(result.table) == 0 and result.summary()["failed"][0]["reason"] == "crashed: exit 137"


def test_the_static_figure_draws_agree_and_conflict_on_the_image_frame(real, tmp_path):
    """The matplotlib figure of the overlay, on a Galactic-frame tile: the circles land on the detections."""
    import matplotlib

    matplotlib.use("Agg")
    from PIL import Image

    from jupyter_vlass.models.figure import consensus_figure

    centre = SkyCoord(209.25, -18.0, unit="deg").galactic
    image, header, _, _ = make_tile(real["racs_components"], ra=centre.l.deg, dec=centre.b.deg, pixels=768, seed=11,
                                    frame="galactic")
    write_tile(tmp_path / "tile.fits", image, header)
    tile = open_image(tmp_path / "tile.fits")
    runs = [Run("classical", "1.0.0", "local", ClassicalDetector().detect(tile)),
            Run("classical-7sigma", "1.0.0", "slurm", ClassicalDetector(threshold=7.0).detect(tile))]
    result = aggregate(runs, radius_deg=BEAM_DEG)
    figure = consensus_figure(tile, result, runs, path=tmp_path / "overlay.png")
    rgb = np.asarray(Image.open(tmp_path / "overlay.png").convert("RGB")).astype(int)
    green = ((rgb[..., 1] > 200) & (rgb[..., 0] < 40) & (rgb[..., 2] < 40)).sum()
    yellow = ((rgb[..., 0] > 200) & (rgb[..., 1] > 150) & (rgb[..., 2] < 60)).sum()
    assert green > 100 and (yellow > 50) == bool(result.summary()["conflict"]), (green, yellow)
    # every agreed detection's circle is inside the image: the ICRS positions went through the Galactic WCS
    axes = figure.axes[0]
    agreed = result.table[result.table["agreement"] == "agree"]
    x, y = tile.attrs["wcs"].world_to_pixel(SkyCoord(agreed["ra"], agreed["dec"], unit="deg"))
    assert ((x > -1) & (x < 768) & (y > -1) & (y < 768)).all() and len(axes.collections) >= 3
