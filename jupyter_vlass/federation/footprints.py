"""Sky footprints as MOCs: from a FITS WCS, a polygon or a cone; compact (de)serialisation."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import astropy.units as u
import numpy as np
from astropy.coordinates import Angle, Latitude, Longitude, SkyCoord
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning
from mocpy import MOC

from ..exceptions import CorruptData

MIN_DEPTH = 4
MAX_DEPTH = 14
# Index orders: each footprint is filed under the HEALPix cell holding its centre,
# at the deepest order whose cells are still at least as wide as the footprint.
MIN_INDEX_ORDER = 2
MAX_INDEX_ORDER = 12


def cell_size_deg(order: int) -> float:
    """Approximate width of a HEALPix cell at ``order`` (square root of its area)."""
    return math.sqrt(4 * math.pi / (12 * 4**order)) * 180 / math.pi


def moc_depth_for(size_deg: float) -> int:
    """A MOC depth resolving a footprint of ``size_deg`` to about a tenth of its size."""
    target = max(size_deg / 10.0, 1e-9)
    depth = math.ceil(math.log2(cell_size_deg(0) / target))
    return int(min(MAX_DEPTH, max(MIN_DEPTH, depth)))


def index_order_for(radius_deg: float) -> int:
    for order in range(MAX_INDEX_ORDER, MIN_INDEX_ORDER - 1, -1):
        if cell_size_deg(order) >= 2 * radius_deg:
            return order
    return MIN_INDEX_ORDER


@dataclass(frozen=True)
class Footprint:
    """Where a dataset lies: a MOC plus its bounding cone (centre and radius)."""

    moc: MOC
    center: SkyCoord
    radius: Angle

    @property
    def depth(self) -> int:
        return int(self.moc.max_order)

    def to_bytes(self) -> bytes:
        return np.ascontiguousarray(self.moc.to_depth29_ranges, dtype="<u8").tobytes()

    @staticmethod
    def moc_from_bytes(depth: int, data: bytes) -> MOC:
        ranges = np.frombuffer(data, dtype="<u8").reshape(-1, 2)
        return MOC.from_depth29_ranges(depth, ranges)

    @classmethod
    def cone(cls, center: SkyCoord, radius: Angle | u.Quantity) -> Footprint:
        radius = Angle(radius)
        depth = moc_depth_for(2 * radius.deg)
        icrs = center.icrs
        moc = MOC.from_cone(Longitude(icrs.ra), Latitude(icrs.dec), radius=radius, max_depth=depth)
        return cls(moc, icrs, radius)

    @classmethod
    def polygon(cls, vertices: SkyCoord) -> Footprint:
        """A convex or concave polygon given by its vertices (at least three)."""
        vertices = vertices.icrs
        if vertices.isscalar or len(vertices) < 3:
            raise CorruptData("a footprint polygon needs at least three vertices")
        center = _mean_position(vertices)
        radius = Angle(center.separation(vertices).max())
        depth = moc_depth_for(2 * radius.deg)
        moc = MOC.from_polygon_skycoord(vertices, max_depth=depth)
        return cls(moc, center, radius)

    @classmethod
    def from_spec(cls, spec: dict) -> Footprint:
        """From a manifest entry: ``{"ra", "dec", "radius"}`` (deg) or ``{"polygon": [[ra, dec], ...]}``."""
        try:
            if "polygon" in spec:
                pts = np.asarray(spec["polygon"], dtype=float)
                if pts.ndim != 2 or pts.shape[1] != 2 or not np.isfinite(pts).all():
                    raise ValueError("polygon must be a list of [ra, dec] pairs")
                return cls.polygon(SkyCoord(pts[:, 0] * u.deg, pts[:, 1] * u.deg))
            ra, dec, radius = (float(spec[k]) for k in ("ra", "dec", "radius"))
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptData(f"bad footprint {spec!r}: {exc}") from None
        if not (0 <= ra < 360 and -90 <= dec <= 90 and 0 < radius <= 180):
            raise CorruptData(f"footprint out of range: {spec!r}")
        return cls.cone(SkyCoord(ra * u.deg, dec * u.deg), Angle(radius, u.deg))

    def to_spec(self) -> dict:
        return {"ra": float(self.center.ra.deg), "dec": float(self.center.dec.deg), "radius": float(self.radius.deg)}


def _mean_position(points: SkyCoord) -> SkyCoord:
    xyz = points.cartesian.xyz.value.mean(axis=1)
    norm = np.linalg.norm(xyz)
    if norm == 0:
        return SkyCoord(0 * u.deg, 90 * u.deg)
    x, y, z = xyz / norm
    return SkyCoord(np.degrees(np.arctan2(y, x)) % 360 * u.deg, np.degrees(np.arcsin(z)) * u.deg)


@dataclass(frozen=True)
class ImageMetadata:
    """What a FITS image header says about its sky coverage and band."""

    footprint: Footprint
    shape: tuple[int, int]
    pixel_scale: Angle
    em_min: u.Quantity | None
    em_max: u.Quantity | None
    stokes: str | None
    date_obs: str | None
    telescope: str | None
    header: fits.Header


_STOKES = {1: "I", 2: "Q", 3: "U", 4: "V", -1: "RR", -2: "LL", -3: "RL", -4: "LR", -5: "XX", -6: "YY"}


def image_metadata(header: fits.Header) -> ImageMetadata:
    """Footprint, band and polarisation from an image header (2-D to 4-D, e.g. VLASS Quick Look)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            wcs = WCS(header)
            celestial = wcs.celestial
        if celestial.naxis != 2:
            raise ValueError("no celestial axes")
        nx, ny = int(header["NAXIS1"]), int(header["NAXIS2"])
        if nx < 1 or ny < 1:
            raise ValueError("empty image")
        corners = celestial.calc_footprint(axes=(nx, ny))
    except (KeyError, ValueError, TypeError, MemoryError) as exc:
        raise CorruptData(f"image header has no usable celestial WCS: {exc}") from None
    if not np.isfinite(corners).all():
        raise CorruptData("image WCS gives non-finite corner positions")
    footprint = Footprint.polygon(SkyCoord(corners[:, 0] * u.deg, corners[:, 1] * u.deg, frame="icrs"))
    scale = Angle(float(np.abs(celestial.proj_plane_pixel_scales()[0].to_value(u.deg))), u.deg)
    em_min = em_max = None
    stokes = None
    for i, ctype in enumerate(wcs.wcs.ctype, start=1):
        kind = ctype.split("-")[0].upper()
        crval = header.get(f"CRVAL{i}")
        cdelt = abs(float(header.get(f"CDELT{i}", 0.0) or 0.0))
        if kind == "FREQ" and crval:
            freq = float(crval) * u.Hz
            lo = (freq - cdelt / 2 * u.Hz) if cdelt else freq
            hi = (freq + cdelt / 2 * u.Hz) if cdelt else freq
            em_min = hi.to(u.m, equivalencies=u.spectral())
            em_max = lo.to(u.m, equivalencies=u.spectral())
        elif kind == "STOKES" and crval is not None:
            stokes = _STOKES.get(int(crval))
    return ImageMetadata(
        footprint=footprint,
        shape=(ny, nx),
        pixel_scale=scale,
        em_min=em_min,
        em_max=em_max,
        stokes=stokes,
        date_obs=header.get("DATE-OBS"),
        telescope=header.get("TELESCOP"),
        header=header,
    )


def read_header(fileobj) -> fits.Header:
    """Read the primary header only (works on a local file, an HTTP or an S3 file object)."""
    try:
        return fits.Header.fromfile(fileobj)
    except (OSError, ValueError, EOFError, UnicodeDecodeError) as exc:
        raise CorruptData(f"not a FITS file: {exc}") from None
