"""Region answers checked against an independent brute-force computation with astropy.

For every image in the registry, the truth is computed from its pixels: the image overlaps a
cone when some pixel centre lies within the cone (astropy ``separation`` over every pixel of
the real small images; the full-size tile is sampled every 8 pixels plus its edges). Images
whose nearest pixel is within the MOC resolution of the cone's edge are left out of the
comparison: there, both answers are legitimately ambiguous.
"""

import warnings

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning

from jupyter_vlass.federation import Region


def _pixel_centres(path, step):
    with fits.open(path) as hdul, warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        header = hdul[0].header
        wcs = WCS(header).celestial
    nx, ny = header["NAXIS1"], header["NAXIS2"]
    xs = np.unique(np.r_[np.arange(0, nx, step), nx - 1])
    ys = np.unique(np.r_[np.arange(0, ny, step), ny - 1])
    gx, gy = np.meshgrid(xs, ys)
    return wcs.pixel_to_world(gx.ravel(), gy.ravel())


@pytest.fixture(scope="module")
def images(sample_data):
    paths = sorted(p for p in sample_data["vlass"].rglob("*.fits"))
    return {p: _pixel_centres(p, 8 if "T08t20" in str(p) else 1) for p in paths}


REGIONS = [(209.25, -18.0, 0.1), (209.9, -18.3, 0.3), (208.5, -17.4, 0.2), (210.5, -19.0, 0.5),
           (149.25, -7.18, 0.01), (149.25, -7.185, 0.004), (149.4, -7.1, 0.05), (0.0, -18.0, 1.0)]


@pytest.mark.parametrize("ra, dec, radius", REGIONS)
def test_search_matches_brute_force(registry, sample_data, images, ra, dec, radius):
    registry.add_source("vlass", "vlass", str(sample_data["vlass"]))
    registry.sync()
    region = Region.from_degrees(ra, dec, radius)
    found = {h.uri for h in registry.search(region)}
    centre = SkyCoord(ra * u.deg, dec * u.deg)
    checked = 0
    for path, pixels in images.items():
        nearest = centre.separation(pixels).min().deg
        tolerance = 0.01 if "T08t20" in str(path) else 0.0015  # MOC resolution at each image's depth
        if abs(nearest - radius) < tolerance:
            continue
        assert (str(path) in found) == (nearest < radius), (path.name, nearest, radius)
        checked += 1
    assert checked >= 3
