import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS

from jupyter_vlass.exceptions import CorruptData
from jupyter_vlass.federation.footprints import image_metadata, read_header


def _header(path):
    with open(path, "rb") as fh:
        return read_header(fh)


def test_racs_4d_header_gives_footprint_band_and_stokes(sample_data):
    from jupyter_vlass.sample_data import fetch_real_files
    from tests.services import SAMPLE_CACHE

    path = fetch_real_files(SAMPLE_CACHE)["racs_image_0"]
    header = _header(path)
    assert header["NAXIS"] == 4
    meta = image_metadata(header)
    wcs = WCS(header).celestial
    corners = wcs.calc_footprint(axes=(10, 10))
    for ra, dec in corners:  # every corner of the real image lies inside the MOC
        assert meta.footprint.moc.contains_skycoords(SkyCoord(ra * u.deg, dec * u.deg))[0]
    freq = (meta.em_min + meta.em_max).to(u.MHz, equivalencies=u.spectral())
    assert meta.em_min < meta.em_max
    assert 300 < freq.value < 1000  # 808 MHz RACS-low channel, seen through both wavelength ends
    assert meta.stokes == "I" and meta.telescope == "ASKAP"
    assert meta.pixel_scale.arcsec == pytest.approx(2.5)


def test_first_cutout_header(sample_data):
    header = _header(sample_data["manifest"].parent / "first" / "J105007+304037.fits")
    meta = image_metadata(header)
    target = SkyCoord("10h50m07.2s +30d40m37.2s")
    assert meta.footprint.center.separation(target) < 1 * u.arcmin
    assert meta.footprint.moc.contains_skycoords(target)[0]


def test_full_size_tile_is_labelled_synthetic(sample_data):
    header = _header(sample_data["tile_v1"])
    assert header["NAXIS1"] == header["NAXIS2"] == 3722 and header["NAXIS"] == 4
    assert "SYNTHETIC PIXELS" in str(header["COMMENT"])
    assert header["NSOURCES"] > 20


def test_not_a_fits_file_is_corrupt(tmp_path):
    bad = tmp_path / "bad.fits"
    bad.write_bytes(b"this is not FITS" * 300)
    with pytest.raises(CorruptData):
        with open(bad, "rb") as fh:
            image_metadata(read_header(fh))


def test_header_without_wcs_is_corrupt():
    header = fits.PrimaryHDU(np.zeros((4, 4), dtype=np.float32)).header
    with pytest.raises(CorruptData):
        image_metadata(header)
