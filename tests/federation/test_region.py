import math

import astropy.units as u
import pytest
from astropy.coordinates import Angle, SkyCoord

from jupyter_vlass.exceptions import InvalidRegion
from jupyter_vlass.federation import Region


def test_parse_gives_astropy_types():
    region = Region.parse(" 209.25, -18.0 , 0.5 ")
    assert isinstance(region.center, SkyCoord) and isinstance(region.radius, Angle)
    assert region.ra_deg == pytest.approx(209.25) and region.dec_deg == pytest.approx(-18.0)
    assert region.radius.to_value(u.arcmin) == pytest.approx(30)


def test_cone_converts_frames_and_units():
    galactic = SkyCoord(l=0 * u.deg, b=0 * u.deg, frame="galactic")
    region = Region.cone(galactic, 30 * u.arcmin)
    assert region.ra_deg == pytest.approx(266.405, abs=1e-3)
    assert region.radius_deg == pytest.approx(0.5)


@pytest.mark.parametrize("text, fragment", [
    ("360,0,1", "RA must be in [0, 360)"),
    ("-0.1,0,1", "RA must be in [0, 360)"),
    ("10,90.5,1", "Dec must be in [-90, 90]"),
    ("10,-91,1", "Dec must be in [-90, 90]"),
    ("10,0,0", "radius must be in (0, 180]"),
    ("10,0,-1", "radius must be in (0, 180]"),
    ("10,0,181", "radius must be in (0, 180]"),
    ("nan,0,1", "finite"),
    ("10,inf,1", "finite"),
    ("ten,0,1", "must be a number"),
    ("10,0", "RA,DEC,RADIUS"),
    ("10,0,1,2", "RA,DEC,RADIUS"),
    ("", "RA,DEC,RADIUS"),
    ("10,,1", "RA,DEC,RADIUS"),
])
def test_bad_regions_are_rejected_with_a_message(text, fragment):
    with pytest.raises(InvalidRegion) as info:
        Region.parse(text)
    assert fragment in info.value.message
    assert info.value.to_json()["reason"] == "invalid_region"


def test_cone_rejects_non_angle_radius():
    with pytest.raises(InvalidRegion):
        Region.cone(SkyCoord(1 * u.deg, 2 * u.deg), 3 * u.m)


def test_region_moc_covers_its_area():
    region = Region.from_degrees(100, 20, 1)
    area = region.moc(12).sky_fraction * 4 * math.pi * (180 / math.pi) ** 2
    assert area == pytest.approx(math.pi, rel=0.05)


@pytest.mark.parametrize("frame, lon, lat", [("galactic", 327.5, 42.5), ("fk5", 209.25, -18.0),
                                             ("fk4", 208.58, -17.76), ("FK4", 208.58, -17.76)])
def test_parse_in_a_frame_is_the_same_cone_as_astropy_gives(frame, lon, lat):
    region = Region.parse(f"{lon},{lat},0.5", frame)
    expected = SkyCoord(lon * u.deg, lat * u.deg, frame=frame.lower()).icrs
    assert region.center.separation(expected) < 1 * u.mas
    assert region.radius_deg == pytest.approx(0.5)


@pytest.mark.parametrize("frame, text, fragment", [("b1950", "1,2,3", "frame must be one of"),
                                                   ("galactic", "1,95,3", "latitude must be in"),
                                                   ("galactic", "1,2,0", "radius must be in")])
def test_bad_frames_and_latitudes_are_rejected(frame, text, fragment):
    with pytest.raises(InvalidRegion) as info:
        Region.parse(text, frame)
    assert fragment in info.value.message
