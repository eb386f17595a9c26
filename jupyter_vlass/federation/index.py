"""The footprint index: each footprint is filed under the HEALPix cell holding its centre, at
an order matched to its size. A cone query asks, per order present, only the cells within
``radius + largest footprint radius at that order`` — never every row — and then measures
exact overlap with the footprints' MOCs.
"""

from __future__ import annotations

import math

import astropy.units as u
import cdshealpix
import numpy as np
from astropy.coordinates import Latitude, Longitude
from mocpy import MOC

from .footprints import Footprint, index_order_for
from .region import Region

MAX_RANGES = 48
COLUMNS = ("pk", "dataset_id", "version", "source", "uri", "sha256", "title", "s_ra", "s_dec",
           "radius_deg", "moc_depth", "moc", "access_tier", "release_date", "ingested_at")


def index_cell(footprint: Footprint) -> tuple[int, int]:
    order = index_order_for(float(footprint.radius.deg))
    ipix = cdshealpix.lonlat_to_healpix(Longitude(footprint.center.ra), Latitude(footprint.center.dec), order)
    return order, int(np.asarray(ipix).ravel()[0])


def cell_ranges(region: Region, pad_deg: float, order: int) -> np.ndarray:
    """Ranges ``[lo, hi]`` (inclusive) of cells at ``order`` touching the padded cone."""
    radius = min(180.0, region.radius_deg + pad_deg + 1e-6)
    if radius >= 180.0:
        return np.array([[0, 12 * 4**order - 1]], dtype=np.int64)
    depth = order
    while True:
        moc = MOC.from_cone(Longitude(region.ra_deg * u.deg), Latitude(region.dec_deg * u.deg),
                            radius=radius * u.deg, max_depth=depth, delta_depth=2)
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
    """Measures how much of a region each footprint covers, reusing one region MOC per depth."""

    def __init__(self, region: Region):
        self.region = region
        self._min_depth = min(14, _region_depth(region.radius_deg))
        self._mocs: dict[int, tuple[MOC, float]] = {}

    def region_moc(self, depth: int) -> tuple[MOC, float]:
        if depth not in self._mocs:
            moc = self.region.moc(depth)
            self._mocs[depth] = (moc, area(moc))
        return self._mocs[depth]

    def measure(self, moc: MOC) -> tuple[float, float]:
        """(fraction of the region covered, fraction of the footprint inside the region)."""
        depth = max(int(moc.max_order), self._min_depth)
        region_moc, region_area = self.region_moc(depth)
        inter = area(moc.intersection(region_moc))
        own = area(moc)
        return (min(1.0, inter / region_area) if region_area else 0.0, inter / own if own else 0.0)


_CELLS_29 = float(12 * 4**29)


def area(moc: MOC) -> float:
    """Sky fraction covered by a MOC (summed from its depth-29 ranges)."""
    ranges = moc.to_depth29_ranges
    return float((ranges[:, 1] - ranges[:, 0]).sum()) / _CELLS_29 if len(ranges) else 0.0


def _region_depth(radius_deg: float) -> int:
    """A depth resolving the region to about 1/30 of its radius."""
    return int(min(29, max(3, math.ceil(math.log2(58.6 / max(radius_deg / 30, 1e-9))))))
