"""Sky footprints as MOCs: from a FITS WCS, a polygon or a cone; compact (de)serialisation."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import astropy.units as u
import numpy as np
from astropy.coordinates import Angle, Latitude, Longitude, SkyCoord, frame_transform_graph
from astropy.io import fits
from astropy.time import Time
from astropy.wcs import WCS, FITSFixedWarning
from astropy.wcs.utils import wcs_to_celestial_frame
from mocpy import MOC

from ..exceptions import CorruptData
from ..store import moc_codec

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


def encode_ranges(ranges29: np.ndarray, depth: int) -> bytes:
    """A MOC's depth-29 ranges as stored (see :mod:`jupyter_vlass.store.moc_codec`)."""
    return moc_codec.encode(np.asarray(ranges29, np.uint64).reshape(-1, 2), depth)


def decode_ranges(data: bytes, depth: int) -> np.ndarray:
    """Depth-29 ranges (uint64, shape ``(n, 2)``) of a blob :func:`encode_ranges` wrote at ``depth``."""
    return moc_codec.decode(data, depth)


def index_order_for(radius_deg: float) -> int:
    for order in range(MAX_INDEX_ORDER, MIN_INDEX_ORDER - 1, -1):
        if cell_size_deg(order) >= 2 * radius_deg:
            return order
    return MIN_INDEX_ORDER


def moc_cells(ranges29: np.ndarray) -> int:
    """The number of depth-29 cells in a MOC's depth-29 ranges."""
    ranges = np.asarray(ranges29, dtype=np.int64).reshape(-1, 2)
    return int((ranges[:, 1] - ranges[:, 0]).sum())


@dataclass(frozen=True)
class Footprint:
    """Where a dataset lies: a MOC plus its bounding cone (centre and radius)."""

    moc: MOC
    center: SkyCoord
    radius: Angle

    @property
    def depth(self) -> int:
        return int(self.moc.max_order)

    @property
    def cells(self) -> int:
        """The MOC's area in depth-29 cells (what the search measures coverage in)."""
        return moc_cells(self.moc.to_depth29_ranges)

    def to_bytes(self) -> bytes:
        return encode_ranges(self.moc.to_depth29_ranges, self.depth)

    @staticmethod
    def moc_from_bytes(depth: int, data: bytes) -> MOC:
        return MOC.from_depth29_ranges(depth, decode_ranges(data, depth))

    @classmethod
    def cone(cls, center: SkyCoord, radius: Angle | u.Quantity) -> Footprint:
        radius = Angle(radius)
        depth = moc_depth_for(2 * radius.deg)
        icrs = center.icrs
        moc = MOC.from_cone(Longitude(icrs.ra), Latitude(icrs.dec), radius=radius, max_depth=depth)
        return cls(moc, icrs, radius)

    @classmethod
    def from_moc(cls, moc: MOC) -> Footprint:
        """A footprint that is already a MOC (a region of agreement, say), with its bounding cone."""
        if moc.empty():
            raise CorruptData("an empty MOC is not a footprint")
        center = moc.barycenter().icrs
        return cls(moc, center, Angle(moc.largest_distance_from_coo_to_vertices(center)))

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
        """From a manifest entry: a cone ``{"ra", "dec", "radius"}``, ``{"polygon": [[ra, dec], ...]}`` (deg) or
        ``{"moc": "<ASCII MOC>"}`` (ICRS).

        Positions are ICRS unless ``"frame"`` says otherwise: ``fk5`` or ``fk4`` (with ``"equinox"``,
        e.g. ``"B1950"``), ``galactic`` (``"l"``, ``"b"`` or the same ``ra``/``dec`` keys), or an ecliptic
        frame astropy knows; everything is stored in ICRS.
        """
        if not isinstance(spec, dict):
            raise CorruptData(f"bad footprint {spec!r}: must be an object")
        if "moc" in spec:  # an ASCII MOC in ICRS ("3/1-4 5/100")
            try:
                return cls.from_moc(MOC.from_string(str(spec["moc"]), format="ascii"))
            except (ValueError, TypeError) as exc:
                raise CorruptData(f"bad footprint MOC: {str(exc)[:200]}") from None
        frame = _spec_frame(spec)
        try:
            if "polygon" in spec:
                pts = np.asarray(spec["polygon"], dtype=float)
                if pts.ndim != 2 or pts.shape[1] != 2 or not np.isfinite(pts).all():
                    raise ValueError("polygon must be a list of [lon, lat] pairs")
                if (np.abs(pts[:, 1]) > 90).any():
                    raise ValueError("latitudes must be within [-90, 90]")
                return cls.polygon(SkyCoord(pts[:, 0] * u.deg, pts[:, 1] * u.deg, frame=frame))
            lon = float(spec["ra"] if "ra" in spec else spec["l"])
            lat = float(spec["dec"] if "dec" in spec else spec["b"])
            radius = float(spec["radius"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptData(f"bad footprint {spec!r}: {exc}") from None
        if not (0 <= lon < 360 and -90 <= lat <= 90 and 0 < radius <= 180):
            raise CorruptData(f"footprint out of range: {spec!r}")
        return cls.cone(SkyCoord(lon * u.deg, lat * u.deg, frame=frame), Angle(radius, u.deg))


SPEC_FRAMES = ("icrs", "fk5", "fk4", "galactic", "barycentricmeanecliptic", "geocentricmeanecliptic")


def _spec_frame(spec: dict):
    name = spec.get("frame", "icrs")
    if not isinstance(name, str) or name.lower() not in SPEC_FRAMES:
        raise CorruptData(f"footprint frame {name!r} is not one of {', '.join(SPEC_FRAMES)}")
    name = name.lower()
    if "equinox" not in spec:
        return frame_transform_graph.lookup_name(name)()
    if name not in ("fk5", "fk4", "barycentricmeanecliptic", "geocentricmeanecliptic"):
        raise CorruptData(f"footprint frame {name!r} has no equinox")
    try:
        equinox = Time(spec["equinox"])
    except (TypeError, ValueError):
        raise CorruptData(f"footprint equinox {spec['equinox']!r} is not a time such as 'J2000' or 'B1950'") from None
    return frame_transform_graph.lookup_name(name)(equinox=equinox)


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
    """Footprint, band and polarisation from an image header (2-D to 4-D, e.g. VLASS Quick Look).

    The corners are read in the image's own celestial frame (ICRS, FK5 or FK4 with its equinox,
    Galactic, ecliptic: whatever astropy's WCS knows) and transformed to ICRS; a frame astropy
    cannot name is refused rather than read as RA/Dec.
    """
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
    except (KeyError, ValueError, TypeError, MemoryError) as exc:
        raise CorruptData(f"image header has no usable celestial WCS: {exc}") from None
    corners = corners_icrs(celestial, nx, ny)
    footprint = Footprint.polygon(corners)
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


def celestial_frame(celestial: WCS):
    """The astropy frame of a celestial WCS; :class:`CorruptData` naming the axes when there is none."""
    try:
        return wcs_to_celestial_frame(celestial)
    except ValueError:
        kinds = "/".join(str(c) for c in celestial.wcs.ctype)
        raise CorruptData(f"celestial frame of the axes {kinds} (RADESYS {celestial.wcs.radesys or 'unset'}) "
                          "is not one astropy knows; not stored at a guessed position") from None


def corners_icrs(celestial: WCS, nx: int, ny: int) -> SkyCoord:
    """The centres of the corner pixels of an ``nx`` × ``ny`` image (as ``WCS.calc_footprint``), in ICRS,
    from any celestial frame."""
    frame = celestial_frame(celestial)
    x = np.array([0, 0, nx - 1, nx - 1], dtype=float)
    y = np.array([0, ny - 1, ny - 1, 0], dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # points outside a projection's domain come back as NaN
        lon, lat = celestial.pixel_to_world_values(x, y)
    if not (np.isfinite(lon).all() and np.isfinite(lat).all()):
        raise CorruptData("image WCS gives non-finite corner positions")
    return SkyCoord(lon * u.deg, lat * u.deg, frame=frame).icrs


def read_header(fileobj) -> fits.Header:
    """Read the primary header only (works on a local file, an HTTP or an S3 file object)."""
    try:
        return fits.Header.fromfile(fileobj)
    except (OSError, ValueError, EOFError, UnicodeDecodeError) as exc:
        raise CorruptData(f"not a FITS file: {exc}") from None
