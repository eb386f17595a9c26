"""A mosaic of three overlapping tiles (FK5 and Galactic headers; real RACS sources, synthetic pixels) in
bounded memory: the detector finds on the mosaic what it finds on each tile, and the injected truth; the
images are read a chunk at a time (never copied whole into memory); bad inputs are refused."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.table import vstack

from jupyter_vlass.exceptions import InvalidArgument
from jupyter_vlass.models.classical import ClassicalDetector
from jupyter_vlass.models.detections import match, score
from jupyter_vlass.models.images import open_image
from jupyter_vlass.models.mosaic import mosaic
from jupyter_vlass.models.synthetic import make_tile, write_tile
from tests.models.conftest import BEAM_DEG

pytestmark = pytest.mark.timeout(300)
PIXELS = 1400  # 0.39 deg a side; the centres are 0.3 deg apart


@pytest.fixture(scope="module")
def tiles(real, tmp_path_factory):
    folder = tmp_path_factory.mktemp("mosaic")
    third = SkyCoord(209.25, -17.7, unit="deg", frame="fk5").galactic
    centres = [(209.25, -18.0, "fk5"), (209.25 + 0.3 / np.cos(np.radians(18.0)), -18.0, "fk5"),
               (third.l.deg, third.b.deg, "galactic")]
    paths, truths = [], []
    for k, (lon, lat, frame) in enumerate(centres):
        image, header, truth, _ = make_tile(real["racs_components"], ra=lon, dec=lat, pixels=PIXELS, seed=20 + k,
                                            frame=frame)
        paths.append(folder / f"tile{k}.fits")
        write_tile(paths[-1], image, header)
        truths.append(truth[truth["kind"] == "source"])
    union = truths[0]
    for truth in truths[1:]:  # a source in an overlap is one source
        _, seen = match(union, truth, BEAM_DEG)
        union = vstack([union, truth[np.setdiff1d(np.arange(len(truth)), seen)]])
    return folder, paths, union


def test_the_mosaic_holds_every_tile_and_the_detector_finds_the_truth(tiles):
    folder, paths, truth = tiles
    image = mosaic(paths, folder / "mosaic.fits")
    assert image.shape[0] > PIXELS * 1.5 and image.shape[1] > PIXELS * 1.5
    assert image.attrs["wcs"].wcs.ctype[0].startswith("RA--") and np.isclose(image.attrs["beam_fwhm_px"], 2.5, atol=0.1)
    data = np.asarray(image.data)
    assert 0.05 < np.isnan(data).mean() < 0.5  # the corner no tile covers
    found = ClassicalDetector().detect(image)
    sources = score(found, truth, radius_deg=BEAM_DEG, kind="source")
    assert sources["expected"] > 25 and sources["recall"] >= 0.9, sources
    for path in paths:  # what each tile shows alone, the mosaic shows at the same place
        alone = ClassicalDetector(threshold=7.0).detect(open_image(path))
        matched, _ = match(alone, found, BEAM_DEG)
        assert len(matched) >= 0.9 * len(alone), (path.name, len(matched), len(alone))


def test_memory_is_bounded_by_blocks_not_by_the_mosaic(tiles):
    folder, paths, _ = tiles
    mosaic(paths, folder / "warm.fits")  # imports and caches out of the way
    tracemalloc.start()
    try:
        image = mosaic(paths, folder / "bounded.fits")
        made = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        image.data[:256, :256].compute()
        read = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    output = image.shape[0] * image.shape[1] * 4
    assert made < output / 2, (made, output)
    assert read < output / 10, (read, output)  # one chunk read, not the file


def test_bad_inputs_are_refused(tiles, tmp_path):
    with pytest.raises(InvalidArgument, match="no images"):
        mosaic([], tmp_path / "none.fits")
    (tmp_path / "text.fits").write_text("not a FITS file")
    with pytest.raises(InvalidArgument, match="not a FITS image"):
        mosaic([tiles[1][0], tmp_path / "text.fits"], tmp_path / "bad.fits")
    assert not (tmp_path / "bad.fits").exists()
