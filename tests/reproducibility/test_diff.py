"""The science-aware diff of images whatever their layout: the Quick Look 4-D layout (the real RACS image,
frequency and Stokes axes) and a Galactic WCS (reproject's real ``galactic_2d.fits``). A block of pixels is
changed in the replay's copy (its header says so); the changed-pixel MOC is in ICRS and holds exactly
where those pixels are on the sky, from the CLI as from Python."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS
from mocpy import MOC

from jupyter_vlass.reproducibility.diff import diff
from jupyter_vlass.sample_data import fetch_real_files
from tests.services import SAMPLE_CACHE

BLOCK = (slice(2, 6), slice(3, 6))  # rows (y), columns (x) of the celestial plane: 12 pixels


def _real_image(which: str) -> Path:
    if which == "racs-4d":
        return fetch_real_files(SAMPLE_CACHE)["racs_image_0"]
    return Path(str(files("reproject").joinpath("tests/data/galactic_2d.fits")))


@pytest.fixture(params=["racs-4d", "galactic-2d"])
def changed(request, tmp_path):
    """Two output folders with the same real image, the replay's with BLOCK raised by 1 in its header's unit."""
    source = _real_image(request.param)
    for side in ("original", "replay"):
        (tmp_path / side / "outputs").mkdir(parents=True)
        shutil.copy(source, tmp_path / side / "outputs" / "image.fits")
    with fits.open(tmp_path / "replay" / "outputs" / "image.fits", mode="update") as hdul:
        data = hdul[0].data
        plane = data[(0,) * (data.ndim - 2)]  # the first plane of any frequency and Stokes axes
        plane[BLOCK] += 1.0
        hdul[0].header["HISTORY"] = "jupyter-vlass test: 12 synthetic pixel changes (raised by 1) in a real image"
        header = hdul[0].header.copy()
    ys, xs = np.mgrid[BLOCK]
    sky = WCS(header).celestial.pixel_to_world(xs.ravel(), ys.ravel()).icrs
    return tmp_path, request.param, sky


def test_images_diff_in_any_layout_and_frame_with_an_icrs_moc(changed):
    root, which, sky = changed
    result = diff(root / "original", root / "replay").images["image.fits"]
    assert result["changed_pixels"] == 12, which
    assert result["max_abs_difference"] == pytest.approx(1.0, rel=1e-5)
    moc = MOC.from_string(result["moc"], format="ascii")
    assert moc.contains_skycoords(sky).all(), "every changed pixel's ICRS position lies in the MOC"
    far = SkyCoord(sky.ra.deg.mean() * u.deg + 3 * u.deg, sky.dec.deg.mean() * u.deg)
    assert not moc.contains_skycoords(far), "a place 3 degrees away is not"
    assert moc.sky_fraction < 1e-6


def test_the_cli_diffs_them_too(changed, tmp_path):
    root, which, _ = changed
    done = subprocess.run([sys.executable, "-m", "jupyter_vlass.cli", "diff", str(root / "original"),
                           str(root / "replay"), "--json", "--figure", str(tmp_path / "diff.png")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["images"]["image.fits"]["changed_pixels"] == 12, which
    assert (tmp_path / "diff.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
