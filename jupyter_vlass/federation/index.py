"""The footprint index: each footprint is filed under the HEALPix cell holding its centre, at
an order matched to its size. A cone query asks, per order present, only the cells within
``radius + largest footprint radius at that order`` — never every row — and then measures
exact overlap with the footprints' MOCs.
"""

from __future__ import annotations

import math

import cdshealpix
import numpy as np
from astropy.coordinates import Latitude, Longitude
from mocpy import MOC

from .footprints import Footprint, index_order_for
from .region import Region

MAX_RANGES = 48


def index_cell(footprint: Footprint) -> tuple[int, int]:
    order = index_order_for(float(footprint.radius.deg))
    ipix = cdshealpix.lonlat_to_healpix(Longitude(footprint.center.ra), Latitude(footprint.center.dec), order)
    return order, int(np.asarray(ipix).ravel()[0])


def cell_ranges(region: Region, pad_deg: float, order: int) -> np.ndarray:
    """Ranges ``[lo, hi]`` (inclusive) of cells at ``order`` touching the region's padded bounding cone."""
    radius = min(180.0, region.radius_deg + pad_deg + 1e-6)
    if radius >= 180.0:
        return np.array([[0, 12 * 4**order - 1]], dtype=np.int64)
    depth = order
    while True:
        moc = region.bounds_moc(depth, pad_deg=radius - region.radius_deg)
        ranges = moc.to_depth29_ranges.astype(np.int64) >> (2 * (29 - order))
        if len(ranges) <= MAX_RANGES or depth == 0:
            break
        depth -= 1  # coarser cells: fewer ranges, a few more candidates
    ranges[:, 1] -= 1
    return ranges


def angular_distance_deg(ra1, dec1, ra2, dec2):
    ra1, dec1, ra2, dec2 = map(np.radians, (ra1, dec1, ra2, dec2))
    h = np.sin((dec2 - dec1) / 2) ** 2 + np.cos(dec1) * np.cos(dec2) * np.sin((ra2 - ra1) / 2) ** 2
    return np.degrees(2 * np.arcsin(np.sqrt(np.clip(h, 0, 1))))


class CoverageMeter:
    """Measures how much of a region each footprint covers.

    Footprints are compared as depth-29 HEALPix ranges, all at once: with ``F(x)``, the length of
    the region's ranges below ``x`` (a prefix sum looked up with ``searchsorted``), the overlap of
    a footprint range ``[a, b)`` with the region is ``F(b) - F(a)``. Exact for the given MOCs.
    """

    def __init__(self, region: Region):
        self.region = region
        self._min_depth = min(14, _region_depth(region.radius_deg))
        self._ranges: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, float]] = {}

    def _region_ranges(self, depth: int):
        if depth not in self._ranges:
            ranges = self.region.moc(depth).to_depth29_ranges.astype(np.int64)
            starts, ends = ranges[:, 0], ranges[:, 1]
            cum = np.concatenate([[0], np.cumsum(ends - starts)])
            self._ranges[depth] = (starts, ends, cum, float(cum[-1]))
        return self._ranges[depth]

    def region_cells(self, depth: int) -> float:
        """The region's area, in depth-29 cells, as :meth:`measure_flat` measures footprints of ``depth`` against."""
        return self._region_ranges(max(depth, self._min_depth))[3]

    def measure_ranges(self, footprints: list[np.ndarray], depth: int) -> tuple[np.ndarray, np.ndarray]:
        """(fraction of the region covered, fraction of each footprint inside the region)."""
        if not footprints:
            return np.zeros(0), np.zeros(0)
        counts = np.fromiter((len(f) for f in footprints), np.int64, len(footprints))
        return self.measure_flat(np.concatenate(footprints).reshape(-1, 2), counts, depth)

    def measure_flat(self, flat: np.ndarray, counts: np.ndarray, depth: int) -> tuple[np.ndarray, np.ndarray]:
        """As :meth:`measure_ranges`, for footprints given as one array of ranges, ``counts[i]`` of them
        footprint ``i``'s, in order."""
        if not len(counts):
            return np.zeros(0), np.zeros(0)
        starts, ends, cum, region_area = self._region_ranges(max(depth, self._min_depth))
        flat = flat.astype(np.int64).reshape(-1, 2)

        def below(x):
            i = np.searchsorted(starts, x, side="right") - 1
            j = np.maximum(i, 0)
            return np.where(i >= 0, cum[j] + np.minimum(x, ends[j]) - starts[j], 0)

        overlap = below(flat[:, 1]) - below(flat[:, 0])
        own = flat[:, 1] - flat[:, 0]
        offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
        nonempty = counts > 0
        inter = np.zeros(len(counts))
        area_own = np.zeros(len(counts))
        inter[nonempty] = np.add.reduceat(overlap, offsets[nonempty]).astype(float)
        area_own[nonempty] = np.add.reduceat(own, offsets[nonempty]).astype(float)
        coverage = np.minimum(1.0, inter / region_area) if region_area else np.zeros(len(counts))
        inside = np.divide(inter, area_own, out=np.zeros(len(counts)), where=area_own > 0)
        return coverage, inside

    def measure(self, moc: MOC) -> tuple[float, float]:
        coverage, inside = self.measure_ranges([moc.to_depth29_ranges], int(moc.max_order))
        return float(coverage[0]), float(inside[0])


def _region_depth(radius_deg: float) -> int:
    """A depth resolving the region to about 1/30 of its radius."""
    return int(min(29, max(3, math.ceil(math.log2(58.6 / max(radius_deg / 30, 1e-9))))))
