"""Sky regions: a validated cone, built from astropy types or parsed from user text.

Every region has a bounding cone (``center``, ``radius``) that the index reads candidates with, and an
exact shape (:meth:`Region.moc`) that they are measured against; for a cone the two are the same.
Polygons and RA/Dec ranges (SIA2 ``POS=POLYGON`` and ``POS=RANGE``) are in :mod:`.shapes`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import astropy.units as u
from astropy.coordinates import Angle, Latitude, Longitude, SkyCoord
from mocpy import MOC

from ..exceptions import InvalidRegion

MAX_RADIUS_DEG = 180.0
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
        from .shapes import polygon

        return polygon(ra_dec_deg)

    @classmethod
    def range(cls, ra_min: float, ra_max: float, dec_min: float, dec_max: float) -> Region:
        """Everything with ``ra_min <= ra <= ra_max`` and ``dec_min <= dec <= dec_max`` (degrees, ICRS);
        ``ra_min > ra_max`` wraps through RA 0."""
        from .shapes import ra_dec_range

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
