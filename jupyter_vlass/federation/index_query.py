"""The region search's reads of the store, in SQLAlchemy Core with named columns.

Per search: one read of the enabled sources (kind, options, latency, sync state: everything the search,
the access check, the ranking and the statuses need), then one UNION ALL over the footprint index, a
branch per (index order, cell range). On SQLite every branch stays on the covering index
``ix_footprint_cover`` (migration 0011): it holds every column that deciding a match, measuring it and ranking
it need (:data:`CANDIDATE_COLUMNS`, the MOC included), so the candidates are read from the index alone, in
cell order, without a lookup of each row (4x faster at 10^6). Only the page's rows are then read from the
table (:func:`page_rows`: URI, title, digest).
On PostgreSQL with the Q3C index (migration 0007) the candidates come from one ``q3c_radial_query`` on
the footprint centres instead, with the cone's radius widened by the largest footprint radius: the same
candidates or fewer (never one that may touch the region less), read faster (benchmarks/region_postgres.py).
The statement is compiled once per shape (number of branches, which access clauses) and run with bound
parameters; its rows are read by name.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import groupby

import numpy as np
from sqlalchemy import and_, bindparam, func, literal, or_, select, text, union_all

from ..store import DatasetRow, SourceRow, moc_codec
from .footprints import MAX_INDEX_ORDER, MIN_INDEX_ORDER, cell_size_deg
from .index import CoverageMeter, angular_distance_deg, cell_ranges
from .region import Region
from .results import Hit

DATASETS, SOURCES = DatasetRow.__table__, SourceRow.__table__
# what a hit shows (row_hit), read for the page's rows only
HIT_COLUMNS = ("dataset_id", "version", "source", "uri", "sha256", "title", "s_ra", "s_dec", "radius_deg",
               "access_tier")
# what the candidates read: on SQLite all of it in ix_footprint_cover
CANDIDATE_COLUMNS = ("pk", "dataset_id", "version", "source", "access_tier", "s_ra", "s_dec", "radius_deg",
                     "moc_depth", "moc_cells", "moc")
IN_CHUNK = 10_000  # primary keys per IN (...) list
CELL_WIDTH_DEG = np.array([cell_size_deg(d) for d in range(30)])


def index_orders(conn) -> dict[int, float]:
    """The index orders present, each with its largest footprint radius: one ``MAX`` per possible order, each
    a seek on the ``(index_order, radius_deg)`` index (migration 0010), not a scan of the table."""
    d = DATASETS.c
    parts = [select(literal(order).label("index_order"), func.max(d.radius_deg).label("radius"))
             .where(d.index_order == order) for order in range(MIN_INDEX_ORDER, MAX_INDEX_ORDER + 1)]
    return {int(row.index_order): float(row.radius) for row in conn.execute(union_all(*parts))
            if row.radius is not None}


def source_rows(conn) -> dict:
    """The enabled sources by name: ``name, kind, options, latency_s, last_status, synced_at, last_error``."""
    c = SOURCES.c
    query = select(c.name, c.kind, c.options, c.latency_s, c.last_status, c.synced_at, c.last_error)
    return {row.name: row for row in conn.execute(query.where(c.enabled.is_(True)))}


Q3C_INDEX = "ix_datasets_q3c"


def has_q3c_index(conn) -> bool:
    """Whether the footprint table has the Q3C index (PostgreSQL with the q3c extension, migration 0007)."""
    return conn.dialect.name == "postgresql" and conn.execute(text(
        "SELECT 1 FROM pg_indexes WHERE tablename = 'datasets' AND indexname = :name"), {"name": Q3C_INDEX}).first() is not None


def _access(public_only: bool, granted: bool):
    d = DATASETS.c
    access = []
    if public_only:
        access.append(and_(d.access_tier == "public", d.source.in_(bindparam("public", expanding=True))))
    if granted:
        access.append(d.source.in_(bindparam("granted", expanding=True)))
    return or_(*access)


@lru_cache(maxsize=8)
def _q3c_statement(public_only: bool, granted: bool):
    d = DATASETS.c
    return select(*[getattr(d, name) for name in CANDIDATE_COLUMNS]).where(
        func.q3c_radial_query(d.s_ra, d.s_dec, bindparam("ra"), bindparam("dec"), bindparam("radius")),
        d.withdrawn_at.is_(None), _access(public_only, granted))


@lru_cache(maxsize=256)
def _index_statement(branches: int, public_only: bool, granted: bool):
    """``SELECT <candidate columns> ... UNION ALL ...``: ``branches`` cell ranges, each with its own order and
    bounds (``order_k``, ``lo_k``, ``hi_k``), and the access clauses asked for (``public``, ``granted``)."""
    d = DATASETS.c
    columns = [getattr(d, name) for name in CANDIDATE_COLUMNS]
    parts = [select(*columns).where(d.index_order == bindparam(f"order_{k}"),
                                    d.index_cell.between(bindparam(f"lo_{k}"), bindparam(f"hi_{k}")),
                                    d.withdrawn_at.is_(None), _access(public_only, granted))
             for k in range(branches)]
    return union_all(*parts) if branches > 1 else parts[0]


def candidates(conn, region: Region, orders: dict[int, float], *, public_only: list[str], granted: list[str],
               q3c: bool = False) -> list:
    """Rows whose bounding circle may touch ``region``: public datasets of ``public_only`` and every dataset
    of ``granted`` sources; ``orders``: the index orders present, each with its largest footprint radius;
    ``q3c``: read them through the Q3C index (:func:`has_q3c_index`)."""
    if not (public_only or granted) or not orders:
        return []
    access = {**({"public": public_only} if public_only else {}), **({"granted": granted} if granted else {})}
    if q3c:
        radius = min(180.0, region.radius_deg + max(orders.values()) + 1e-6)
        return conn.execute(_q3c_statement(bool(public_only), bool(granted)),
                            {"ra": region.ra_deg, "dec": region.dec_deg, "radius": radius, **access}).all()
    bounds = [(order, int(lo), int(hi)) for order, pad in orders.items() for lo, hi in cell_ranges(region, pad, order)]
    if not bounds:
        return []
    # padded to a power of two with empty ranges: a few statement shapes, each compiled once (a new one costs
    # 10 ms or more at 5 degrees), not one per number of ranges
    bounds += [(-1, 1, 0)] * ((1 << (len(bounds) - 1).bit_length()) - len(bounds))
    params = {f"{name}_{k}": value for k, bound in enumerate(bounds) for name, value in zip(("order", "lo", "hi"), bound)}
    params.update(access)
    return conn.execute(_index_statement(len(bounds), bool(public_only), bool(granted)), params).all()


def index_matches(rows: list, region: Region, meter: CoverageMeter) -> tuple[list, np.ndarray, np.ndarray]:
    """``(rows, coverage, footprint_fraction)`` of the rows that overlap ``region``, exactly as measuring every
    MOC against the region's would give them. A footprint whose every MOC cell lies inside a cone covers just
    its own area (``moc_cells``, stored at indexing): its MOC is not decoded. The others, on the region's edge,
    are measured (all decoded and measured at once)."""
    if not rows:
        return [], np.zeros(0), np.zeros(0)
    column = dict(zip(rows[0]._fields, zip(*rows)))  # one transposition: reading attributes row by row costs more
    ra, dec, rad = (np.array(column[name], float) for name in ("s_ra", "s_dec", "radius_deg"))
    distance = angular_distance_deg(region.ra_deg, region.dec_deg, ra, dec)
    near = np.flatnonzero(distance <= region.radius_deg + rad + 1e-9)
    if not len(near):
        return [], np.zeros(0), np.zeros(0)
    rows = [rows[i] for i in near.tolist()]
    depths = np.array(column["moc_depth"], np.int64)[near]
    cells = np.array([-1 if c is None else c for c in column["moc_cells"]], np.float64)[near]
    depth = int(depths.max())  # the region is measured at the depth of the finest footprint, as before
    whole = _wholly_inside(region, distance[near], rad[near], depths) & (cells >= 0)
    coverage, inside = np.zeros(len(rows)), np.zeros(len(rows))
    if whole.any():
        coverage[whole] = np.minimum(1.0, cells[whole] / meter.region_cells(depth))
        inside[whole] = (cells[whole] > 0).astype(float)
    edge = np.flatnonzero(~whole)
    if len(edge):
        edge = edge[np.argsort(depths[edge], kind="stable")]
        flat, counts = _stored_ranges([(int(depths[i]), rows[i].moc) for i in edge.tolist()])
        coverage[edge], inside[edge] = meter.measure_flat(flat, counts, depth)
    overlap = np.flatnonzero(coverage > 0)
    return [rows[i] for i in overlap.tolist()], coverage[overlap], inside[overlap]


def page_rows(conn, pks: list[int]) -> dict[int, object]:
    """``{pk: row}`` of the footprint rows ``pks`` still there, with the :data:`HIT_COLUMNS` a hit shows."""
    d, found = DATASETS.c, {}
    columns = [d.pk] + [getattr(d, name) for name in HIT_COLUMNS]
    for at in range(0, len(pks), IN_CHUNK):
        found.update((row.pk, row) for row in conn.execute(select(*columns).where(d.pk.in_(pks[at:at + IN_CHUNK]))))
    return found


def _wholly_inside(region: Region, distance: np.ndarray, radius: np.ndarray, depths: np.ndarray) -> np.ndarray:
    """Whether every MOC cell of each footprint lies inside ``region`` (a cone): each cell touches the
    footprint's bounding circle, so it lies within that circle widened by the cell's diameter (under 2.5
    cell widths at any depth)."""
    if type(region).moc is not Region.moc:  # a polygon or a range: no such shortcut
        return np.zeros(len(distance), bool)
    margin = 2.5 * CELL_WIDTH_DEG[depths]
    return distance + radius + margin <= region.radius_deg


def row_hit(row, coverage: float, inside: float) -> Hit:
    return Hit(row.dataset_id, row.version, row.source, row.uri, row.sha256, row.title, float(row.s_ra),
               float(row.s_dec), 2 * float(row.radius_deg), row.access_tier, float(coverage), float(inside))


def _stored_ranges(mocs: list[tuple[int, bytes]]) -> tuple[np.ndarray, np.ndarray]:
    """MOCs ``(depth, stored bytes)`` (sorted by depth) as one array of depth-29 ranges and the count of each
    one's, decoded a depth at a time: one vectorised decode per depth, not one per MOC."""
    parts, counts = [], []
    for depth, group in groupby(mocs, key=lambda m: m[0]):
        flat, count = moc_codec.decode_many([m[1] for m in group], depth)
        parts.append(flat)
        counts.append(count)
    if not parts:
        return np.zeros((0, 2), np.uint64), np.zeros(0, np.int64)
    return np.concatenate(parts), np.concatenate(counts)
