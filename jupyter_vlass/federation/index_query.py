"""The region search's reads of the store, in SQLAlchemy Core with named columns.

Per search: one read of the enabled sources (kind, options, latency, sync state: everything the search,
the access check, the ranking and the statuses need), then one UNION ALL over the footprint index, a
branch per (index order, cell range) so every branch stays on the ``(index_order, index_cell)`` index.
The statement is compiled once per shape (number of branches, which access clauses) and run with bound
parameters; its rows are read by name.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from sqlalchemy import and_, bindparam, or_, select, union_all

from ..store import DatasetRow, SourceRow
from .index import CoverageMeter, angular_distance_deg, cell_ranges
from .region import Region
from .results import Hit

DATASETS, SOURCES = DatasetRow.__table__, SourceRow.__table__
HIT_COLUMNS = ("dataset_id", "version", "source", "uri", "sha256", "title", "s_ra", "s_dec", "radius_deg",
               "moc_depth", "moc", "access_tier")


def source_rows(conn) -> dict:
    """The enabled sources by name: ``name, kind, options, latency_s, last_status, synced_at, last_error``."""
    c = SOURCES.c
    query = select(c.name, c.kind, c.options, c.latency_s, c.last_status, c.synced_at, c.last_error)
    return {row.name: row for row in conn.execute(query.where(c.enabled.is_(True)))}


@lru_cache(maxsize=256)
def _index_statement(branches: int, public_only: bool, granted: bool):
    """``SELECT <hit columns> ... UNION ALL ...``: ``branches`` cell ranges, each with its own order and
    bounds (``order_k``, ``lo_k``, ``hi_k``), and the access clauses asked for (``public``, ``granted``)."""
    d = DATASETS.c
    access = []
    if public_only:
        access.append(and_(d.access_tier == "public", d.source.in_(bindparam("public", expanding=True))))
    if granted:
        access.append(d.source.in_(bindparam("granted", expanding=True)))
    columns = [getattr(d, name) for name in HIT_COLUMNS]
    parts = [select(*columns).where(d.index_order == bindparam(f"order_{k}"),
                                    d.index_cell.between(bindparam(f"lo_{k}"), bindparam(f"hi_{k}")),
                                    d.withdrawn_at.is_(None), or_(*access))
             for k in range(branches)]
    return union_all(*parts) if branches > 1 else parts[0]


def candidates(conn, region: Region, orders: dict[int, float], *, public_only: list[str], granted: list[str]) -> list:
    """Rows whose bounding circle may touch ``region``: public datasets of ``public_only`` and every dataset
    of ``granted`` sources; ``orders``: the index orders present, each with its largest footprint radius."""
    if not (public_only or granted):
        return []
    bounds = [(order, int(lo), int(hi)) for order, pad in orders.items() for lo, hi in cell_ranges(region, pad, order)]
    if not bounds:
        return []
    params = {f"{name}_{k}": value for k, bound in enumerate(bounds) for name, value in zip(("order", "lo", "hi"), bound)}
    if public_only:
        params["public"] = public_only
    if granted:
        params["granted"] = granted
    return conn.execute(_index_statement(len(bounds), bool(public_only), bool(granted)), params).all()


def index_hits(rows: list, region: Region, meter: CoverageMeter) -> list[Hit]:
    """The rows that overlap ``region``, measured exactly (their MOCs against the region's)."""
    if not rows:
        return []
    ra = np.fromiter((r.s_ra for r in rows), float, len(rows))
    dec = np.fromiter((r.s_dec for r in rows), float, len(rows))
    rad = np.fromiter((r.radius_deg for r in rows), float, len(rows))
    near = angular_distance_deg(region.ra_deg, region.dec_deg, ra, dec) <= region.radius_deg + rad + 1e-9
    rows = [row for row, keep in zip(rows, near) if keep]
    coverage, inside = meter.measure_ranges([np.frombuffer(r.moc, dtype="<u8").reshape(-1, 2) for r in rows],
                                            max((r.moc_depth for r in rows), default=0))
    return [Hit(r.dataset_id, r.version, r.source, r.uri, r.sha256, r.title, float(r.s_ra), float(r.s_dec),
                2 * float(r.radius_deg), r.access_tier, float(c), float(f))
            for r, c, f in zip(rows, coverage, inside) if c > 0]
