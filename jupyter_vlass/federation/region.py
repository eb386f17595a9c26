"""Sky regions: a validated cone, built from astropy types or parsed from user text, and polygons and
RA/Dec ranges (SIA2 ``POS=POLYGON`` and ``POS=RANGE``).

Every region has a bounding cone (``center``, ``radius``) that the index reads candidates with, and an
exact shape (:meth:`Region.moc`) that they are measured against; for a cone the two are the same. The
bounding cone of a polygon or a range must contain the whole shape:

- A polygon's cone is centred on the mean of its vertices' unit vectors. Its radius is the farthest
  vertex: when that is under 90°, no point of an edge is farther (along a great circle the distance to
  the centre peaks only past 90°), and a cap under 90° is convex, so it holds the inside too.
  A polygon that does not fit in a hemisphere is refused.
- A range's cone is centred on its middle. The farthest point of a closed region from the centre lies
  on its border unless the region holds the centre's antipode (then the cone is the whole sky). The
  border is sampled; any border point lies within half a sample spacing of a sample, so the farthest
  sample plus that half-spacing bounds it (the triangle inequality).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import astropy.units as u
import numpy as np
from astropy.coordinates import Angle, Latitude, Longitude, SkyCoord
from mocpy import MOC

from ..exceptions import InvalidRegion

MAX_RADIUS_DEG = 180.0
MAX_VERTICES = 1000
BORDER_SAMPLES = 256
# Frames a region may be given in (FK5 at J2000 and FK4 at B1950, their astropy defaults).
FRAMES = ("fk5", "fk4", "galactic")


def _finite(value: float, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidRegion(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise InvalidRegion(f"{name} must be a finite number, got {value!r}")
    return number


@dataclass(frozen=True)
class Region:
    """A cone on the sky (ICRS). Build it with :meth:`cone`, :meth:`from_degrees` or :meth:`parse`."""

    center: SkyCoord
    radius: Angle

    @classmethod
    def from_degrees(cls, ra: float, dec: float, radius: float) -> Region:
        ra = _finite(ra, "RA")
        dec = _finite(dec, "Dec")
        radius = _finite(radius, "radius")
        if not 0.0 <= ra < 360.0:
            raise InvalidRegion(f"RA must be in [0, 360) degrees, got {ra:g}")
        if not -90.0 <= dec <= 90.0:
            raise InvalidRegion(f"Dec must be in [-90, 90] degrees, got {dec:g}")
        if not 0.0 < radius <= MAX_RADIUS_DEG:
            raise InvalidRegion(f"radius must be in (0, 180] degrees, got {radius:g}")
        region = cls(SkyCoord(ra * u.deg, dec * u.deg, frame="icrs"), Angle(radius, u.deg))
        # The numbers a search reads, known now (reading them back through SkyCoord costs ~0.1 ms each).
        region.__dict__.update(ra_deg=ra, dec_deg=dec, radius_deg=radius)
        return region

    @classmethod
    def cone(cls, center: SkyCoord, radius: Angle | u.Quantity) -> Region:
        """A cone around ``center`` (any frame; converted to ICRS)."""
        if not isinstance(center, SkyCoord) or not center.isscalar:
            raise InvalidRegion("center must be a scalar SkyCoord")
        try:
            radius_deg = Angle(radius).to_value(u.deg)
        except (u.UnitsError, TypeError, ValueError):
            raise InvalidRegion(f"radius must be an angle, got {radius!r}") from None
        icrs = center.icrs
        return cls.from_degrees(icrs.ra.deg % 360.0, icrs.dec.deg, radius_deg)

    @classmethod
    def parse(cls, text: str, frame: str = "icrs") -> Region:
        """Parse ``"LON,LAT,RADIUS"`` in degrees (the CLI and REST form); ``frame``: ``icrs`` (the default),
        ``fk5`` (J2000), ``fk4`` (B1950) or ``galactic``, converted to ICRS."""
        if not isinstance(text, str):
            raise InvalidRegion("region must be a string 'RA,DEC,RADIUS' in degrees")
        parts = [p.strip() for p in text.split(",")]
        if len(parts) != 3 or not all(parts):
            raise InvalidRegion(f"region must be 'RA,DEC,RADIUS' in degrees, got {text!r}")
        name = (frame or "icrs").strip().lower()
        if name == "icrs":
            return cls.from_degrees(*parts)
        if name not in FRAMES:
            raise InvalidRegion(f"frame must be one of {', '.join(('icrs',) + FRAMES)}, got {frame!r}")
        lon, lat, radius = (_finite(v, n) for v, n in zip(parts, ("longitude", "latitude", "radius")))
        if not -90.0 <= lat <= 90.0:
            raise InvalidRegion(f"latitude must be in [-90, 90] degrees, got {lat:g}")
        return cls.cone(SkyCoord(lon * u.deg, lat * u.deg, frame=name), radius * u.deg)

    @cached_property
    def ra_deg(self) -> float:
        return float(self.center.ra.deg)

    @cached_property
    def dec_deg(self) -> float:
        return float(self.center.dec.deg)

    @cached_property
    def radius_deg(self) -> float:
        return float(self.radius.deg)

    @cached_property
    def lonlat(self) -> tuple[Longitude, Latitude]:
        """The centre as mocpy and cdshealpix take it (made once per region)."""
        return Longitude(self.ra_deg * u.deg), Latitude(self.dec_deg * u.deg)

    @classmethod
    def polygon(cls, ra_dec_deg) -> Region:
        """A spherical polygon with great-circle edges from ``[(ra, dec), ...]`` in degrees (ICRS)."""
        return polygon(ra_dec_deg)

    @classmethod
    def range(cls, ra_min: float, ra_max: float, dec_min: float, dec_max: float) -> Region:
        """Everything with ``ra_min <= ra <= ra_max`` and ``dec_min <= dec <= dec_max`` (degrees, ICRS);
        ``ra_min > ra_max`` wraps through RA 0."""
        return ra_dec_range(ra_min, ra_max, dec_min, dec_max)

    def moc(self, depth: int) -> MOC:
        """The region's exact shape as a MOC at ``depth`` (cells partially inside are included)."""
        return self.bounds_moc(depth)

    def bounds_moc(self, depth: int, *, pad_deg: float = 0.0) -> MOC:
        """The bounding cone (widened by ``pad_deg``) as a MOC at ``depth`` (cells partially inside included)."""
        return MOC.from_cone(*self.lonlat, radius=Angle(min(180.0, self.radius_deg + pad_deg), u.deg),
                             max_depth=depth, delta_depth=2)

    def as_json(self) -> dict:
        """The bounding cone, and the shape when it is not that cone."""
        return {"ra": self.ra_deg, "dec": self.dec_deg, "radius": self.radius_deg}

    def __str__(self) -> str:
        return f"{self.ra_deg:.6f},{self.dec_deg:.6f},{self.radius_deg:.6f}"


# polygons and ranges ----------------------------------------------------------------------------------
def _unit(ra_deg, dec_deg) -> np.ndarray:
    ra, dec = np.radians(ra_deg), np.radians(dec_deg)
    return np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], axis=-1)


def _separation_deg(vector: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    cross = np.linalg.norm(np.cross(vectors, vector), axis=-1)
    return np.degrees(np.arctan2(cross, vectors @ vector))


def _lonlat(vector: np.ndarray) -> tuple[float, float]:
    x, y, z = vector / np.linalg.norm(vector)
    return float(np.degrees(np.arctan2(y, x)) % 360.0), float(np.degrees(np.arcsin(np.clip(z, -1, 1))))


def _checked_point(ra, dec, what: str) -> tuple[float, float]:
    ra, dec = _finite(ra, f"{what} RA"), _finite(dec, f"{what} Dec")
    if not 0.0 <= ra <= 360.0:
        raise InvalidRegion(f"{what} RA must be in [0, 360] degrees, got {ra:g}")
    if not -90.0 <= dec <= 90.0:
        raise InvalidRegion(f"{what} Dec must be in [-90, 90] degrees, got {dec:g}")
    return ra % 360.0, dec


def _bounded(cls, center: tuple[float, float], radius: float, **shape) -> Region:
    ra, dec = center
    radius = float(radius)
    region = cls(SkyCoord(ra * u.deg, dec * u.deg, frame="icrs"), Angle(radius, u.deg), **shape)
    region.__dict__.update(ra_deg=ra, dec_deg=dec, radius_deg=radius)
    return region


@dataclass(frozen=True)
class Polygon(Region):
    """A spherical polygon (great-circle edges), as ``POS=POLYGON`` gives it; build with :meth:`Region.polygon`."""

    vertices: tuple[tuple[float, float], ...] = ()

    def moc(self, depth: int) -> MOC:
        ra, dec = np.array(self.vertices).T
        return MOC.from_polygon(Longitude(ra * u.deg), Latitude(dec * u.deg), max_depth=depth)

    def as_json(self) -> dict:
        return {**super().as_json(), "polygon": [list(v) for v in self.vertices]}

    def __str__(self) -> str:
        return "POLYGON " + " ".join(f"{ra:.6f} {dec:.6f}" for ra, dec in self.vertices)


@dataclass(frozen=True)
class Range(Region):
    """RA and Dec intervals, as ``POS=RANGE`` gives them; build with :meth:`Region.range`."""

    ra_range: tuple[float, float] = (0.0, 360.0)
    dec_range: tuple[float, float] = (-90.0, 90.0)

    def moc(self, depth: int) -> MOC:
        (ra0, ra1), (dec0, dec1) = self.ra_range, self.dec_range
        if ra1 - ra0 >= 360.0 and dec0 <= -90.0 and dec1 >= 90.0:
            return MOC.from_depth29_ranges(29, np.array([[0, 12 * 4**29]], dtype=np.uint64))
        # mocpy wraps through RA 0 when the second RA is the smaller one
        return MOC.from_zone(SkyCoord([[ra0, dec0], [ra1 - 360.0 if ra1 > 360.0 else min(ra1, 359.9999999), dec1]],
                                      unit="deg"), max_depth=depth)

    def contains(self, ra_deg: float, dec_deg: float) -> bool:
        (ra0, ra1), (dec0, dec1) = self.ra_range, self.dec_range
        in_ra = ra1 - ra0 >= 360.0 or (ra_deg - ra0) % 360.0 <= ra1 - ra0  # ra1 > 360 when it wraps
        return in_ra and dec0 <= dec_deg <= dec1

    def as_json(self) -> dict:
        (ra0, ra1), (dec0, dec1) = self.ra_range, self.dec_range
        return {**super().as_json(), "range": [ra0, ra1 - 360.0 if ra1 > 360.0 else ra1, dec0, dec1]}

    def __str__(self) -> str:
        return "RANGE " + " ".join(f"{v:.6f}" for v in self.as_json()["range"])


def polygon(ra_dec_deg) -> Polygon:
    try:
        points = [tuple(p) for p in ra_dec_deg]
    except TypeError:
        raise InvalidRegion("a polygon is a list of (ra, dec) vertices in degrees") from None
    if not 3 <= len(points) <= MAX_VERTICES or any(len(p) != 2 for p in points):
        raise InvalidRegion(f"a polygon needs 3 to {MAX_VERTICES} (ra, dec) vertices, got {len(points)}")
    vertices = tuple(_checked_point(ra, dec, f"vertex {k + 1}") for k, (ra, dec) in enumerate(points))
    unit = _unit(*np.array(vertices).T)
    mean = unit.sum(axis=0)
    if np.linalg.norm(mean) < 1e-9:
        raise InvalidRegion("the polygon's vertices must fit in a hemisphere")
    center = mean / np.linalg.norm(mean)
    radius = float(_separation_deg(center, unit).max())
    if radius >= 90.0:
        raise InvalidRegion(f"the polygon must fit in a hemisphere (its vertices reach {radius:.1f} deg "
                            "from their centre)")
    if radius < 1e-9:
        raise InvalidRegion("the polygon's vertices are all the same point")
    return _bounded(Polygon, _lonlat(center), min(180.0, radius * (1 + 1e-9) + 1e-9), vertices=vertices)


def ra_dec_range(ra_min, ra_max, dec_min, dec_max) -> Range:
    """RA and Dec intervals in degrees; ``-inf``/``+inf`` stand for the open ends, as in DALI."""
    numbers = []
    for value, name, low, high in ((ra_min, "RA min", 0.0, 360.0), (ra_max, "RA max", 0.0, 360.0),
                                   (dec_min, "Dec min", -90.0, 90.0), (dec_max, "Dec max", -90.0, 90.0)):
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise InvalidRegion(f"{name} must be a number, got {value!r}") from None
        if np.isnan(number):
            raise InvalidRegion(f"{name} must be a number, got {value!r}")
        number = min(max(number, low), high)  # -Inf and +Inf: the open ends
        numbers.append(number)
    ra0, ra1, dec0, dec1 = numbers
    if dec0 > dec1:
        raise InvalidRegion(f"Dec min must not exceed Dec max, got {dec0:g} > {dec1:g}")
    if ra0 == ra1 or dec0 == dec1:
        raise InvalidRegion("a range must have a width in RA and in Dec")
    if ra0 > ra1:  # wraps through RA 0: keep ra1 > ra0 on an unwrapped axis
        ra1 += 360.0
    mid_ra, mid_dec = ((ra0 + ra1) / 2) % 360.0, (dec0 + dec1) / 2
    shape = {"ra_range": (ra0, ra1), "dec_range": (dec0, dec1)}
    probe = Range(SkyCoord(0 * u.deg, 0 * u.deg), Angle(180, u.deg), **shape)
    if probe.contains((mid_ra + 180.0) % 360.0, -mid_dec):
        return _bounded(Range, (mid_ra, mid_dec), 180.0, **shape)
    t = np.linspace(0.0, 1.0, BORDER_SAMPLES)
    ras = np.concatenate([ra0 + (ra1 - ra0) * t, ra0 + (ra1 - ra0) * t, np.full_like(t, ra0), np.full_like(t, ra1)])
    decs = np.concatenate([np.full_like(t, dec0), np.full_like(t, dec1), dec0 + (dec1 - dec0) * t,
                           dec0 + (dec1 - dec0) * t])
    border = _unit(ras, decs)
    farthest = float(_separation_deg(_unit(mid_ra, mid_dec), border).max())
    # adjacent samples: at most this far apart along a parallel (dec0, dec1) or a meridian
    spacing = max((ra1 - ra0) * max(np.cos(np.radians(dec0)), np.cos(np.radians(dec1))), dec1 - dec0) / (BORDER_SAMPLES - 1)
    return _bounded(Range, (mid_ra, mid_dec), min(180.0, farthest + spacing / 2 + 1e-9), **shape)
