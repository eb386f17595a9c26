"""Polygons and RA/Dec ranges: validation, and the bounding cone the index reads always holds the shape."""

import numpy as np
import pytest

from jupyter_vlass.exceptions import InvalidRegion
from jupyter_vlass.federation import Region


@pytest.mark.parametrize("vertices, fragment", [
    ([(1, 1), (2, 2)], "3 to 1000"),
    ([(1, 1), (2, 2), (3,)], "3 to 1000"),
    ([(1, 1), (2, 2), ("x", 3)], "must be a number"),
    ([(1, 1), (2, 2), (3, float("nan"))], "finite"),
    ([(1, 1), (2, 91), (3, 3)], "[-90, 90]"),
    ([(361, 1), (2, 2), (3, 3)], "[0, 360]"),
    ([(0, 0), (120, 0), (240, 0)], "hemisphere"),
    ([(5, 5), (5, 5), (5, 5)], "same point"),
    (42, "list of (ra, dec)"),
])
def test_bad_polygons_are_refused(vertices, fragment):
    with pytest.raises(InvalidRegion) as info:
        Region.polygon(vertices)
    assert fragment in info.value.message


@pytest.mark.parametrize("args, fragment", [
    ((10, 20, 5, 1), "Dec min must not exceed"), ((10, 10, 0, 1), "width"), (("a", 20, 0, 1), "number"),
    ((10, 20, "nan", 1), "number"),
])
def test_bad_ranges_are_refused(args, fragment):
    with pytest.raises(InvalidRegion) as info:
        Region.range(*args)
    assert fragment in info.value.message


def _inside(inner, outer, depth=9) -> bool:
    return inner.moc(depth).difference(outer.bounds_moc(depth)).empty()


def test_bounding_cones_hold_random_shapes():
    rng = np.random.default_rng(7)
    for _ in range(60):
        ra, dec, size = rng.uniform(0, 360), rng.uniform(-89, 89), 10 ** rng.uniform(-2, 1.5)
        n = int(rng.integers(3, 8))
        angles = np.sort(rng.uniform(0, 2 * np.pi, n))
        radii = size * rng.uniform(0.3, 1.0, n)
        vertices = [((ra + r * np.cos(a) / max(np.cos(np.radians(dec)), 0.05)) % 360,
                     float(np.clip(dec + r * np.sin(a), -89.9, 89.9))) for a, r in zip(angles, radii)]
        try:
            polygon = Region.polygon(vertices)
        except InvalidRegion:
            continue
        assert _inside(polygon, polygon), vertices
        ra0, width = rng.uniform(0, 360), rng.uniform(0.01, 120)
        dec0 = rng.uniform(-90, 89)
        ranged = Region.range(ra0, (ra0 + width) % 360, dec0, min(90, dec0 + rng.uniform(0.01, 60)))
        assert _inside(ranged, ranged), ranged


def test_range_edges_wrap_and_open_ends():
    strip = Region.range("-inf", "+inf", -2, 2)
    assert strip.as_json()["range"] == [0.0, 360.0, -2.0, 2.0] and strip.radius_deg == 180.0
    wrapped = Region.range(350, 10, -5, 5)
    assert wrapped.ra_deg == pytest.approx(0.0) and wrapped.radius_deg < 12
    assert wrapped.contains(355, 0) and wrapped.contains(5, 0) and not wrapped.contains(180, 0)
    cap = Region.range(0, 360, 80, "inf")
    assert cap.moc(10).sky_fraction == pytest.approx((1 - np.sin(np.radians(80))) / 2, rel=0.02)
    assert str(wrapped) == "RANGE 350.000000 10.000000 -5.000000 5.000000"
