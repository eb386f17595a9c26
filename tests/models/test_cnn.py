"""The CNN with its packaged, signed weights: checked by sha256 and by the third-party Model Signing
verifier, refused when changed; on a full-size tile with a known truth it finds the sources and the
injected artefacts with MC-dropout uncertainties; the answer does not depend on the chunking."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from jupyter_vlass.models.cnn import WEIGHTS, CnnDetector
from jupyter_vlass.models.detections import score
from jupyter_vlass.models.images import open_image
from tests.models.conftest import BEAM_DEG, pixel_recall, truth_mask
from tests.services import require

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(autouse=True)
def torch_installed():
    import importlib.util

    require(importlib.util.find_spec("torch") is not None, "torch (the torch extra)")


def test_the_packaged_weights_are_pinned_and_signed(tmp_path):
    from jupyter_vlass.models.registry import WeightsMismatch

    model = CnnDetector.packaged()
    folder = WEIGHTS / model.version
    checked = subprocess.run([str(Path(sys.executable).parent / "model_signing"), "verify", "key", str(folder),
                              "--public_key", str(folder / "public.pem"), "--signature", str(folder / "model.sig"),
                              "--ignore-paths", str(folder / "public.pem")], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    changed = tmp_path / "cnn"
    shutil.copytree(WEIGHTS, changed)
    data = bytearray((changed / model.version / "model.pt").read_bytes())
    data[-100] ^= 1
    (changed / model.version / "model.pt").write_bytes(bytes(data))
    import jupyter_vlass.models.cnn as cnn

    original = cnn.WEIGHTS
    cnn.WEIGHTS = changed
    try:
        with pytest.raises(WeightsMismatch):
            CnnDetector.packaged()
    finally:
        cnn.WEIGHTS = original


def test_a_full_tile_against_the_injected_truth_with_uncertainties(full_tile):
    path, truth = full_tile
    found, classes = CnnDetector.packaged().analyse(open_image(path))
    sources = score(found, truth, radius_deg=BEAM_DEG, kind="source")
    artefacts = score(found, truth, radius_deg=BEAM_DEG, kind="artefact")
    assert sources["precision"] >= 0.95 and sources["recall"] >= 0.85, sources
    assert artefacts["recall"] >= 0.8 and artefacts["precision"] >= 0.5, artefacts
    assert np.all((found["confidence"] > 0) & (found["confidence"] <= 1)) and np.any(found["confidence_err"] > 0)
    # The class map of the same pass: the injected sources' and lobes' pixels called what they are.
    mask = truth_mask(path)
    assert pixel_recall(classes, mask, 1) >= 0.9 and pixel_recall(classes, mask, 2) >= 0.8
    called = np.asarray(classes.data)
    assert called[np.rint(found["y"]).astype(int), np.rint(found["x"]).astype(int)].all()  # every peak is marked


def test_chunking_does_not_change_what_is_found(real, tmp_path):
    from jupyter_vlass.models.synthetic import make_tile, write_tile

    image, header, _, _ = make_tile(real["racs_components"], ra=209.25, dec=-18.0, pixels=1024, seed=5)
    write_tile(tmp_path / "tile.fits", image, header)
    model = CnnDetector.packaged()
    whole = model.detect(open_image(tmp_path / "tile.fits"))
    model.chunk = 300
    parts = model.detect(open_image(tmp_path / "tile.fits"))
    # The same detections, of the same kind, at most a pixel apart (box statistics are measured per block).
    assert len(whole) == len(parts) > 0
    order = lambda t: np.lexsort((np.asarray(t["x"]), np.asarray(t["y"])))  # noqa: E731
    a, b = whole[order(whole)], parts[order(parts)]
    assert np.all(np.abs(a["x"] - b["x"]) <= 1) and np.all(np.abs(a["y"] - b["y"]) <= 1)
    assert list(a["kind"]) == list(b["kind"])


def test_real_images_first_2d_and_racs_4d(real):
    """On the real FIRST cutout (2-D, 33², an extended source with four peaks) every CNN detection is one the
    classical detector makes too; the RACS stamps (4-D, 10², a 6-pixel beam the network was not trained on)
    are read through their leading axes and give a table and a class map of the stamp's shape."""
    from jupyter_vlass.models.classical import ClassicalDetector
    from jupyter_vlass.models.detections import COLUMNS, match

    model = CnnDetector.packaged()
    first = open_image(real["first_image"])
    found, classes = model.analyse(first)
    classical = ClassicalDetector().detect(first)
    assert len(found) >= 2 and classes.shape == first.shape, found
    matched, _ = match(found, classical, 1.5 * first.attrs["beam_fwhm_px"] * 1.8 / 3600)  # FIRST: 1.8" pixels
    assert len(matched) == len(found), (found, classical)
    assert np.all((found["confidence"] > 0.5) & (found["confidence"] <= 1))
    for key in ("racs_image_0", "racs_image_1"):
        stamp = open_image(real[key])
        table, painted = model.analyse(stamp)
        assert table.colnames == [n for n, _ in COLUMNS] and painted.shape == stamp.shape == (10, 10)


def test_a_field_it_was_never_trained_on(real):
    """The network was trained on tiles of the RACS_1357-18 field only (RA 205-214, Dec -23..-15; its card
    names the catalogue): a tile of the real NVSS sources at RA 98, Dec -31.5 (another survey's positions and
    fluxes, 107 degrees away), with injected artefacts, is held out."""
    from jupyter_vlass.models.synthetic import Artefacts, make_tile, write_tile

    card = json.loads((WEIGHTS / "0.1.0" / "card.json").read_text())
    assert card["training"]["catalogue"]["file"] == real["racs_components"].name  # not the NVSS extract
    image, header, truth, mask = make_tile(real["nvss"], ra=98.0, dec=-31.5, pixels=2048, seed=21,
                                           artefacts=Artefacts(bright=3, amplitude=0.03))
    header["HISTORY"] = "held out: NVSS positions and fluxes (askap-flint's extract), synthetic pixels"
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "nvss-tile.fits"
        write_tile(path, image, header)
        found, classes = CnnDetector.packaged().analyse(open_image(path))
    sources = score(found, truth, radius_deg=BEAM_DEG, kind="source")
    artefacts = score(found, truth, radius_deg=BEAM_DEG, kind="artefact")
    assert (truth["kind"] == "source").sum() >= 10 and (truth["kind"] == "artefact").sum() >= 5, truth
    assert sources["precision"] >= 0.9 and sources["recall"] >= 0.85, sources
    assert artefacts["recall"] >= 0.8 and artefacts["precision"] >= 0.5, artefacts  # as inside the field
    assert pixel_recall(classes, mask, 1) >= 0.85
