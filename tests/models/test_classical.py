"""The classical detector on real images (FIRST 2-D, RACS 4-D) and on a full-size VLASS-like tile whose
truth is known (real RACS sources, rings and stripes injected at known positions), in every celestial
frame a header may use; chunk boundaries change nothing; pinned versions resolve from a git repository."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from jupyter_vlass.models.classical import ClassicalDetector
from jupyter_vlass.models.detections import score
from jupyter_vlass.models.images import open_image
from jupyter_vlass.models.synthetic import make_tile, write_tile
from tests.models.conftest import BEAM_DEG, pixel_recall, truth_mask

pytestmark = pytest.mark.timeout(300)

def test_a_full_tile_sources_and_artefacts_against_the_injected_truth(full_tile):
    path, truth = full_tile
    found, classes = ClassicalDetector().analyse(open_image(path))
    sources = score(found, truth, radius_deg=BEAM_DEG, kind="source")
    artefacts = score(found, truth, radius_deg=BEAM_DEG, kind="artefact")
    assert sources["expected"] > 80 and artefacts["expected"] >= 20, (sources, artefacts)
    assert sources["recall"] >= 0.95 and sources["precision"] >= 0.85, sources
    assert artefacts["recall"] >= 0.85 and artefacts["precision"] >= 0.85, artefacts
    flagged = found[found["kind"] == "artefact"]
    assert all("a sidelobe" in note for note in flagged["note"])
    assert np.all(found["flux_err"] > 0) and np.all((found["confidence"] >= 0.5) & (found["confidence"] <= 1))
    # The class map: each detection's island in its kind; the injected pixels called what they are.
    called = np.asarray(classes.data)
    at_peaks = called[np.rint(found["y"]).astype(int), np.rint(found["x"]).astype(int)]
    expected = np.where(np.asarray(found["kind"]) == "source", 1, 2)
    assert np.mean(at_peaks == expected) >= 0.95, np.mean(at_peaks == expected)
    mask = truth_mask(path)
    assert pixel_recall(called, mask, 1) >= 0.9 and pixel_recall(called, mask, 2) >= 0.7
    assert called.dtype == np.uint8 and set(np.unique(called)) == {0, 1, 2}


def test_chunk_boundaries_neither_lose_nor_duplicate_a_detection(full_tile):
    path, _ = full_tile
    big, big_classes = ClassicalDetector().analyse(open_image(path, chunks=2048))
    small, small_classes = ClassicalDetector().analyse(open_image(path, chunks=512))
    # Islands that cross a chunk boundary are painted whole from either side.
    assert np.array_equal(np.asarray(big_classes.data), np.asarray(small_classes.data))
    assert len(big) == len(small) > 0
    order = lambda t: np.lexsort((np.asarray(t["x"]), np.asarray(t["y"])))  # noqa: E731
    assert np.allclose(np.asarray(big["x"])[order(big)], np.asarray(small["x"])[order(small)])
    assert list(np.asarray(big["kind"])[order(big)]) == list(np.asarray(small["kind"])[order(small)])


@pytest.mark.parametrize("frame", ["icrs", "fk5", "fk4", "galactic"])
def test_positions_come_out_in_icrs_whatever_the_image_frame(real, tmp_path, frame):
    from astropy.coordinates import SkyCoord
    import astropy.units as u

    centre = SkyCoord(209.25 * u.deg, -18.0 * u.deg, frame="icrs").transform_to(
        {"fk4": "fk4", "galactic": "galactic"}.get(frame, frame))
    lon, lat = (centre.l.deg, centre.b.deg) if frame == "galactic" else (centre.ra.deg, centre.dec.deg)
    image, header, truth, _ = make_tile(real["racs_components"], ra=lon, dec=lat, pixels=1024, seed=3,
                                        frame=frame)
    write_tile(tmp_path / "tile.fits", image, header)
    found = ClassicalDetector().detect(open_image(tmp_path / "tile.fits"))
    result = score(found, truth, radius_deg=BEAM_DEG / 2, kind="source")
    assert result["expected"] >= 5 and result["recall"] >= 0.9, result


def test_real_images_first_2d_and_racs_4d(real):
    # The RACS image is a 10x10-pixel stamp (Stokes, frequency, y, x) around one source: there is no
    # source-free box to measure the noise in, so it is read with a lower threshold.
    for key, detector in (("first_image", ClassicalDetector()), ("racs_image_0", ClassicalDetector(threshold=2.0))):
        image = open_image(real[key])
        assert image.dims == ("y", "x")
        found = detector.detect(image)
        assert len(found) > 0, key
        data = np.asarray(image.data)
        brightest = found[np.argmax(found["peak"])]
        y, x = np.unravel_index(np.nanargmax(data), data.shape)
        assert abs(brightest["x"] - x) <= 1 and abs(brightest["y"] - y) <= 1, key
        lon, lat = float(image.lon[y, x]), float(image.lat[y, x])  # the lazy sky coordinates
        assert abs(lat - brightest["dec"]) < 2e-3 and abs(lon - brightest["ra"]) < 2e-3, key


def test_a_pinned_version_resolves_from_a_git_repository_and_refuses_other_weights(tmp_path):
    from jupyter_vlass.exceptions import InvalidArgument
    from jupyter_vlass.models.registry import (ModelPin, UnknownModel, WeightsMismatch, available, load,
                                               sha256_of)

    assert "classical" in available()
    weights = ClassicalDetector(threshold=6.0).weights()
    work, bare = tmp_path / "work", tmp_path / "models.git"
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    (work / "classical").mkdir()
    (work / "classical" / "weights.json").write_bytes(weights)
    subprocess.run(git + ["-C", str(work), "add", "."], check=True)
    subprocess.run(git + ["-C", str(work), "commit", "-q", "-m", "classical 1.0.0"], check=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)
    commit = subprocess.run(["git", "-C", str(work), "rev-parse", "HEAD"], capture_output=True, text=True,
                            check=True).stdout.strip()
    pin = ModelPin.from_json({"name": "classical", "version": "1.0.0", "repository": str(bare), "commit": commit,
                              "weights_path": "classical/weights.json", "weights_sha256": sha256_of(weights)})
    assert load(pin).threshold == 6.0
    with pytest.raises(WeightsMismatch, match="not the pinned"):
        load(ModelPin(**{**pin.to_json(), "weights_sha256": "0" * 64}))
    with pytest.raises(UnknownModel):
        load(ModelPin(**{**pin.to_json(), "commit": "0" * 40}))
    with pytest.raises(InvalidArgument):
        ModelPin.from_json({**pin.to_json(), "weights_path": "../../etc/passwd"})
    with pytest.raises(UnknownModel):
        load(ModelPin(**{**pin.to_json(), "name": "nonesuch"}))
