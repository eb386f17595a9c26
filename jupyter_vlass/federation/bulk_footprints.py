"""Footprints of a bulk load, a batch at a time: index cells, MOC depths and the stored MOC blobs, computed
vectorised from centres and shapes. A plain function of arrays, so that a process pool can run batches side
by side (mocpy's box and cone builders hold the GIL; ``federation.bulk`` spreads large loads over the cores).
"""

from __future__ import annotations

import astropy.units as u
import cdshealpix
import numpy as np
from astropy.coordinates import Latitude, Longitude
from mocpy import MOC

from ..store import moc_codec
from .footprints import MAX_DEPTH, MAX_INDEX_ORDER, MIN_DEPTH, MIN_INDEX_ORDER, cell_size_deg, moc_cells


def index_orders_for(radius_deg: np.ndarray) -> np.ndarray:
    """Vectorised :func:`footprints.index_order_for`: the deepest order whose cells are at least ``2 r`` wide."""
    orders = np.arange(MIN_INDEX_ORDER, MAX_INDEX_ORDER + 1)
    wide_enough = np.array([cell_size_deg(o) for o in orders])[None, :] >= 2 * np.asarray(radius_deg)[:, None]
    return np.maximum(MIN_INDEX_ORDER, MIN_INDEX_ORDER + wide_enough.sum(axis=1) - 1)


def moc_depths_for(size_deg: np.ndarray) -> np.ndarray:
    """Vectorised :func:`footprints.moc_depth_for`."""
    target = np.maximum(np.asarray(size_deg, float) / 10.0, 1e-9)
    return np.clip(np.ceil(np.log2(cell_size_deg(0) / target)), MIN_DEPTH, MAX_DEPTH).astype(int)


def footprint_cells(ra, dec, a, b, angle, radius, threads: int | None = None) -> tuple:
    """``(index_order, index_cell, moc_depth, moc blobs, moc_cells)`` of each footprint (degrees; ``b == 0``: a cone of
    radius ``a``, else a box of semi-axes ``a >= b``, major axis ``angle`` east of north). ``threads``: mocpy's
    (default: every core; one in a worker process, where the processes share the cores)."""
    orders = index_orders_for(radius)
    cells = np.empty(len(ra), np.int64)
    for order in np.unique(orders):
        at = orders == order
        cells[at] = cdshealpix.lonlat_to_healpix(Longitude(ra[at] * u.deg), Latitude(dec[at] * u.deg), int(order))
    depths = moc_depths_for(2 * radius)
    blobs = np.empty(len(ra), object)
    areas = np.zeros(len(ra), np.int64)
    for depth in np.unique(depths):
        for shape in (b == 0, b != 0):
            at = np.flatnonzero((depths == depth) & shape)
            if not len(at):
                continue
            lon, lat = Longitude(ra[at] * u.deg), Latitude(dec[at] * u.deg)
            if b[at[0]] == 0:
                mocs = MOC.from_cones(lon, lat, radius=a[at] * u.deg, max_depth=int(depth), n_threads=threads)
            else:
                mocs = MOC.from_boxes(lon, lat, a=a[at] * u.deg, b=b[at] * u.deg, angle=angle[at] * u.deg,
                                      max_depth=int(depth), n_threads=threads)
            ranges = [m.to_depth29_ranges for m in mocs]
            blobs[at] = moc_codec.encode_many(ranges, int(depth))
            areas[at] = [moc_cells(r) for r in ranges]
    return orders, cells, depths, list(blobs), areas
