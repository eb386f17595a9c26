"""Footprints from every celestial frame, on real images published inside packages.

- Galactic, ``GLON-SIN``: reproject's reference cube (3-D) ``test_reproject_celestial_3d_equ2gal.fits``;
- Galactic, ``GLON-CAR``: reproject's ``galactic_2d.fits``;
- FK4 (B1950, no RADESYS: the FITS default for EQUINOX < 1984): astropy's ``comp.fits`` (NGC 1316);
- FK5 (J2000, TAN with SIP distortion): astropy's ``sip-wcs.fits`` (an Apogee CCD frame).
Each centre and corner is checked against astropy's own transformation to ICRS. No pixel is made up.
"""

from __future__ import annotations

import io
import shutil
from importlib.resources import files

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS

from jupyter_vlass.exceptions import CorruptData
from jupyter_vlass.federation import Region
from jupyter_vlass.federation.cutout import cutout_fits
from jupyter_vlass.federation.footprints import image_metadata
from jupyter_vlass.federation.sources.vlass import image_path


def _fits(package: str, path: str, hdu: int = 0) -> fits.Header:
    with fits.open(files(package).joinpath(path)) as hdul:
        return hdul[hdu].header.copy()


REAL_IMAGES = {
    "galactic-sin-3d": (lambda: _fits("reproject", "interpolation/tests/reference/test_reproject_celestial_3d_equ2gal.fits"),
                        "galactic"),
    "galactic-car": (lambda: _fits("reproject", "tests/data/galactic_2d.fits"), "galactic"),
    "fk4-b1950": (lambda: _fits("astropy", "io/fits/tests/data/comp.fits", 1), "fk4"),
    "fk5-j2000-sip": (lambda: _fits("astropy", "nddata/tests/data/sip-wcs.fits"), "fk5"),
}


def _astropy_truth(header: fits.Header):
    """Centre and corner-pixel centres in ICRS, straight from astropy."""
    wcs = WCS(header).celestial
    nx, ny = header["NAXIS1"], header["NAXIS2"]
    corners = wcs.pixel_to_world([0, 0, nx - 1, nx - 1], [0, ny - 1, ny - 1, 0]).icrs
    centre = wcs.pixel_to_world((nx - 1) / 2, (ny - 1) / 2).icrs
    return wcs, centre, corners


@pytest.mark.parametrize("name", sorted(REAL_IMAGES))
def test_footprint_is_in_icrs_whatever_the_image_frame(name):
    load, frame = REAL_IMAGES[name]
    header = load()
    wcs, centre, corners = _astropy_truth(header)
    assert WCS(header).celestial.pixel_to_world(0, 0).frame.name == frame
    meta = image_metadata(header)
    size = max(corners.separation(centre))
    assert meta.footprint.center.separation(centre) < 0.05 * size + 1 * u.arcsec
    assert meta.footprint.moc.contains_skycoords(centre)[0]
    inside = meta.footprint.moc.contains_skycoords(corners)
    assert inside.all(), corners[~inside]
    assert meta.footprint.radius >= 0.95 * size


@pytest.mark.parametrize("name", [n for n in sorted(REAL_IMAGES) if REAL_IMAGES[n][1] != "fk5"])
def test_native_values_read_as_ra_dec_would_be_far_off(name):
    """The bug this guards against: (l, b) or B1950 values stored as if they were ICRS RA/Dec."""
    header = REAL_IMAGES[name][0]()
    wcs, centre, _ = _astropy_truth(header)
    lon, lat = wcs.pixel_to_world_values((header["NAXIS1"] - 1) / 2, (header["NAXIS2"] - 1) / 2)
    naive = SkyCoord(float(lon) * u.deg, float(lat) * u.deg, frame="icrs")
    meta = image_metadata(header)
    assert naive.separation(centre) > 10 * meta.footprint.center.separation(centre) + 0.1 * u.arcmin


def test_a_frame_astropy_cannot_name_is_refused_not_guessed():
    header = _fits("reproject", "tests/data/galactic_2d.fits")
    header["CTYPE1"], header["CTYPE2"] = "XLON-CAR", "XLAT-CAR"  # a planetary or unknown frame
    with pytest.raises(CorruptData, match="frame"):
        image_metadata(header)


def test_galactic_image_in_a_quick_look_tree_is_found_where_it_is(registry, tmp_path):
    """Synced from a VLASS-style tree, the Galactic image is found at its true ICRS position (REST and SIA2
    read the same rows), not at its (l, b) read as (RA, Dec); a cutout there has the image's pixels."""
    source = files("reproject").joinpath("tests/data/galactic_2d.fits")
    image_dir = "VLASS2.1.ql.T10t01.J000228-003000.10.2048.v1"
    target = tmp_path / "ql" / image_path("VLASS2.1", "T10t01", image_dir)
    target.parent.mkdir(parents=True)
    shutil.copy(source, target)
    registry.add_source("galactic", "vlass", str(tmp_path / "ql"))
    [report] = registry.sync()
    assert report.status == "ok" and report.added == 1, report.to_json()

    header = fits.getheader(target)
    wcs, centre, _ = _astropy_truth(header)
    found = registry.search(Region.cone(centre, 0.05 * u.deg))
    assert [h.source for h in found.hits] == ["galactic"]
    record = registry.records_for(found.hits)[0]
    assert record.center.separation(centre) < 0.5 * u.deg
    lon, lat = wcs.pixel_to_world_values((header["NAXIS1"] - 1) / 2, (header["NAXIS2"] - 1) / 2)
    naive = Region.from_degrees(float(lon) % 360, float(lat), 0.5)
    assert registry.search(naive).hits == []

    with open(target, "rb") as fh:
        cut = fits.open(io.BytesIO(cutout_fits(fh, Region.cone(centre, 0.05 * u.deg))))[0]
    assert np.isfinite(cut.data).any()
    cut_centre = WCS(cut.header).pixel_to_world(cut.data.shape[1] / 2 - 0.5, cut.data.shape[0] / 2 - 0.5)
    assert cut_centre.separation(centre) < 2 * abs(header["CDELT1"]) * u.deg


@pytest.mark.parametrize("frame, extra, keys", [
    ("galactic", {}, ("l", "b")),
    ("fk4", {"equinox": "B1950"}, ("ra", "dec")),
    ("fk5", {"equinox": "J2000"}, ("ra", "dec")),
    ("barycentricmeanecliptic", {}, ("ra", "dec")),
    ("icrs", {}, ("ra", "dec")),
])
def test_manifest_footprints_in_any_frame_are_stored_in_icrs(frame, extra, keys):
    """Manifest and data-package footprints may name their frame; the registry keeps ICRS."""
    from astropy.coordinates import frame_transform_graph
    from astropy.time import Time

    from jupyter_vlass.federation.footprints import Footprint

    target = SkyCoord(210.5 * u.deg, -19.25 * u.deg)  # inside the RACS field of the sample data
    kwargs = {"equinox": Time(extra["equinox"])} if extra else {}
    native = target.transform_to(frame_transform_graph.lookup_name(frame)(**kwargs))
    lon, lat = native.spherical.lon.deg % 360, native.spherical.lat.deg
    cone = Footprint.from_spec({"frame": frame, keys[0]: lon, keys[1]: lat, "radius": 0.2, **extra})
    assert cone.center.separation(target) < 1 * u.mas
    square = Footprint.from_spec({"frame": frame, **extra, "polygon": [
        [lon - 0.1, lat - 0.1], [lon - 0.1, lat + 0.1], [lon + 0.1, lat + 0.1], [lon + 0.1, lat - 0.1]]})
    assert square.moc.contains_skycoords(target)[0]


@pytest.mark.parametrize("spec", [
    {"frame": "supergalactic-ish", "ra": 1, "dec": 1, "radius": 1},
    {"frame": "galactic", "equinox": "B1950", "l": 1, "b": 1, "radius": 1},
    {"frame": "fk4", "equinox": "yesterday", "ra": 1, "dec": 1, "radius": 1},
    {"frame": 7, "ra": 1, "dec": 1, "radius": 1},
])
def test_a_footprint_frame_that_cannot_be_understood_is_refused(spec):
    from jupyter_vlass.federation.footprints import Footprint

    with pytest.raises(CorruptData):
        Footprint.from_spec(spec)
