"""Per-pixel agreement of real runs' class maps: the classical detector at two thresholds and the CNN on a
tile with a known truth (real RACS sources, injected artefacts). Each pixel's verdict is checked against
the rule written out pixel by pixel; the consensus carries it; class maps survive the FITS a job writes;
maps of different images are refused; the figure draws the layer."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from jupyter_vlass.exceptions import InvalidArgument
from jupyter_vlass.models.classical import ClassicalDetector
from jupyter_vlass.models.consensus import Run, aggregate
from jupyter_vlass.models.images import open_image
from jupyter_vlass.models.pixels import AGREE, CONFLICT, NOTHING, SINGLE, pixel_agreement, read_classes, write_classes
from jupyter_vlass.models.synthetic import make_tile, write_tile
from tests.models.conftest import BEAM_DEG
from tests.services import require

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def tile(real, tmp_path_factory):
    image, header, _, mask = make_tile(real["racs_components"], ra=209.25, dec=-18.0, pixels=1500, seed=11)
    path = tmp_path_factory.mktemp("pixels") / "tile.fits"
    write_tile(path, image, header)
    return path, mask


@pytest.fixture(scope="module")
def runs(tile):
    require(importlib.util.find_spec("torch") is not None, "torch (the torch extra)")
    from jupyter_vlass.models.cnn import CnnDetector

    image = open_image(tile[0])
    found = []
    for name, model in (("classical", ClassicalDetector()), ("classical-7sigma", ClassicalDetector(threshold=7.0)),
                        ("cnn", CnnDetector.packaged())):
        table, classes = model.analyse(image)
        found.append(Run(name, model.version, "local", table, classes=classes.compute()))
    return found


def _by_rule(calls: tuple) -> int:
    """One pixel's verdict from the runs' calls, as the module's docstring words it."""
    marked = [c for c in calls if c]
    if not marked:
        return NOTHING
    if len(calls) == 1:
        return SINGLE
    return AGREE if len(marked) == len(calls) and len(set(marked)) == 1 else CONFLICT


def test_each_pixel_follows_the_rule(runs):
    maps = [np.asarray(r.classes.data) for r in runs]
    agreement = np.asarray(pixel_agreement([r.classes for r in runs]).data)
    marked = np.flatnonzero(np.logical_or.reduce([m > 0 for m in maps]).ravel())
    assert len(marked) > 500
    rng = np.random.default_rng(0)
    sample = np.concatenate([rng.choice(marked, min(3000, len(marked)), replace=False), rng.choice(agreement.size, 3000)])
    for index in sample:
        calls = tuple(int(m.flat[index]) for m in maps)
        assert agreement.flat[index] == _by_rule(calls), (index, calls)
    assert {AGREE, CONFLICT} <= set(np.unique(agreement))
    alone = np.asarray(pixel_agreement([runs[0].classes]).data)
    assert np.array_equal(alone == SINGLE, maps[0] > 0) and set(np.unique(alone)) == {NOTHING, SINGLE}


def test_the_consensus_carries_the_pixels_of_the_runs_that_made_maps(runs, tile):
    _, mask = tile
    failed = Run("cnn", "0.1.0", "slurm", None, error="timed out after 600 s")
    without_map = Run("classical", "1.0.0", "slurm", runs[0].detections)
    result = aggregate(runs + [failed, without_map], radius_deg=BEAM_DEG)
    pixels = result.summary()["pixels"]
    assert pixels["runs"] == ["classical@local", "classical-7sigma@local", "cnn@local"]
    agreement = np.asarray(result.pixels.data)
    assert pixels["agree"] == int((agreement == AGREE).sum()) > 0 and pixels["conflict"] > 0
    assert pixels["marked"] == pixels["agree"] + pixels["conflict"] and pixels["single"] == 0
    # Where every model agrees, it is what was injected: the truth's own pixels, or their faint wings.
    agreed = agreement == AGREE
    assert (mask[agreed] > 0).mean() >= 0.5, (mask[agreed] > 0).mean()
    # The same model at two sites with the same map agrees everywhere it marks.
    same = aggregate([runs[0], Run("classical", "1.0.0", "slurm", runs[0].detections, classes=runs[0].classes)],
                     radius_deg=BEAM_DEG)
    assert same.summary()["pixels"]["agree_fraction"] == 1.0


def test_class_maps_round_trip_through_the_fits_a_job_writes(runs, tmp_path):
    path = tmp_path / "classes.fits"
    write_classes(path, {"vlass:tile/a b": runs[0].classes, "vlass:other": runs[2].classes})
    back = read_classes(path)
    assert set(back) == {"vlass:tile/a b", "vlass:other"}
    assert np.array_equal(back["vlass:tile/a b"], np.asarray(runs[0].classes.data))
    assert path.stat().st_size < np.asarray(runs[0].classes.data).nbytes / 10  # compressed
    (tmp_path / "broken.fits").write_bytes(b"SIMPLE  =  not fits")
    with pytest.raises(InvalidArgument, match="not a class-map file"):
        read_classes(tmp_path / "broken.fits")


def test_maps_of_different_images_are_refused(runs):
    with pytest.raises(InvalidArgument, match="different shapes"):
        pixel_agreement([runs[0].classes, np.zeros((10, 10), np.uint8)])
    with pytest.raises(InvalidArgument, match="no class maps"):
        pixel_agreement([])
    elsewhere = runs[0].classes.copy()
    elsewhere.attrs["wcs"] = elsewhere.attrs["wcs"].deepcopy()
    elsewhere.attrs["wcs"].wcs.crval = elsewhere.attrs["wcs"].wcs.crval + [1.0, 0.0]  # the same shape, one degree east
    with pytest.raises(InvalidArgument, match="different sky grids"):
        pixel_agreement([runs[0].classes, elsewhere])


def test_the_static_figure_draws_the_pixel_layer(runs, tile, tmp_path):
    from jupyter_vlass.models.figure import consensus_figure

    result = aggregate(runs, radius_deg=BEAM_DEG)
    figure = consensus_figure(tile[0], result, runs, path=tmp_path / "figure.png")
    layers = figure.axes[0].get_images()
    assert len(layers) == 2 and layers[1].get_array().shape[:2] == result.pixels.shape
    green = np.asarray(layers[1].get_array())[np.asarray(result.pixels.data) == AGREE]
    assert np.allclose(green[:, 1], 230 / 255, atol=0.01) and np.all(green[:, 3] > 0.5)
