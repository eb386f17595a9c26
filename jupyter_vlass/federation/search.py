"""The region search over a :class:`~.registry.Registry`: harvested sources through the footprint index
(:mod:`.index_query`, SQLAlchemy Core), live sources (SIA2, TAP) in parallel under a deadline
(:mod:`.query`), every match scored and one page ranked (:mod:`.ranking`, :mod:`.paging`), a status per
source. The registry keeps sources, sync, versions and lineage; this module only reads.
"""

from __future__ import annotations

import gc
import time
from collections import Counter
from collections.abc import Iterable
from contextlib import contextmanager

import astropy.units as u
import numpy as np
from sqlalchemy import select

from ..exceptions import Conflict, InvalidArgument, UnknownSource, VlassError
from ..store import SourceRow
from . import index_query, paging
from .access import readable_sources, visible
from .index import CoverageMeter
from .plugins import source_class
from .query import fan_out, run_inline, status_for
from .ranking import Matches, rank_page
from .records import DatasetRecord
from .region import Region
from .results import Hit, SearchResult, SourceStatus
from .sync import record_latency, staleness

INDEX_TASK = "\0index"


class _RowsGone(Exception):
    """A page's rows were deleted (a sync) between reading the candidates and reading the page."""


def search(registry, region: Region, **options) -> SearchResult:
    """What :meth:`Registry.search <.registry.Registry.search>` answers (``options``: its keywords)."""
    for _ in range(3):
        try:
            with _collector_paused():
                return _search(registry, region, **options)
        except _RowsGone:
            continue  # read again: what the sync left
    raise Conflict("the registry changed under this search three times running (a sync); try again")


@contextmanager
def _collector_paused():
    """Python's cyclic garbage collector off for one search. A wide search makes tens of thousands of short-lived
    tuples (rows); with the collector on they trigger collections of the whole heap, 100 ms each at 10^6
    footprints, every dozen 5 degree searches (their p95). They are freed by reference counting when the
    search ends, before any collection would see them. Process-wide, so only the search that turned it off
    turns it on again (searches in other threads meanwhile run with it off too)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _search(registry, region: Region, *, sources: Iterable[str] | None = None,
            deadline: u.Quantity | float = 2 * u.s, user: str | None = None,
            limit: int | None = None, cursor: str | None = None) -> SearchResult:
    if not isinstance(region, Region):
        raise InvalidArgument("region must be a jupyter_vlass.federation.Region")
    deadline_s = deadline.to_value(u.s) if isinstance(deadline, u.Quantity) else float(deadline)
    if not 0 < deadline_s <= 600:
        raise InvalidArgument(f"deadline must be in (0, 600] seconds, got {deadline_s:g}")
    started = time.perf_counter()
    with registry.engine.connect() as conn:  # one read: kinds, access options, latencies, sync state
        rows_of = index_query.source_rows(conn)
    selected = list(rows_of) if sources is None else list(dict.fromkeys(sources))
    for name in selected:
        if name not in rows_of:
            raise UnknownSource(f"no source named {name!r}")
    paged = limit is not None or cursor is not None
    offset = paging.decode_cursor(cursor, region, selected) if paged else 0
    limit = paging.check_limit(paging.DEFAULT_LIMIT if limit is None else limit) if paged else None
    try:
        registry.limits.check_user(user)
    except VlassError as exc:
        statuses = [status_for(n, exc, 0.0) for n in selected]
        return SearchResult(region, [], statuses, time.perf_counter() - started)
    harvested = [n for n in selected if not source_class(rows_of[n].kind).live]
    live = [n for n in selected if source_class(rows_of[n].kind).live]
    meter = CoverageMeter(region)
    readable = readable_sources({n: r.options or {} for n, r in rows_of.items()}, registry.groups)
    tasks = {INDEX_TASK: lambda: _index_matches(registry, region, harvested, meter, readable)} if harvested else {}
    for name in live:
        tasks[name] = _live_task(registry, name, rows_of[name].options, region, deadline_s)
    # With no live source to wait for, the local index lookup runs inline (no thread hop).
    outcomes = fan_out(tasks, deadline_s, registry.executor) if live else \
        {INDEX_TASK: run_inline(tasks[INDEX_TASK])} if harvested else {}
    statuses, live_hits = [], []
    index = outcomes.get(INDEX_TASK)
    rows, coverage, inside = index.value if index is not None and index.status.status == "ok" else ([], [], [])
    per_source = Counter(r.source for r in rows)
    for name in harvested:
        if index.status.status == "ok":
            statuses.append(SourceStatus(name, "ok", index.status.elapsed_s, per_source[name],
                                         **staleness(rows_of[name])))
        else:
            statuses.append(SourceStatus(name, index.status.status, index.status.elapsed_s,
                                         message=index.status.message))
    live_latency = {}
    for name in live:
        outcome = outcomes[name]
        if outcome.status.status == "ok":
            found = [_hit(rec, meter) for rec in outcome.value if visible(rec.source, rec.access_tier, readable)]
            found = [h for h in found if h.coverage > 0]
            live_hits.extend(found)
            outcome.status.count = len(found)
        if outcome.status.status in ("ok", "timeout"):
            live_latency[name] = outcome.status.elapsed_s
        statuses.append(outcome.status)
    latencies = _update_latencies(registry, live_latency) if live_latency else \
        {n: r.latency_s for n, r in rows_of.items()}
    matches = _matches(registry, rows, coverage, inside, live_hits)
    total = len(matches)
    ranked = rank_page(matches, latencies, registry.weights, offset, None if limit is None else offset + limit)
    next_cursor = None
    if paged and offset + limit < total:  # a page of the full ranking (see .paging)
        next_cursor = paging.encode_cursor(offset + limit, region, selected)
    order = {n: i for i, n in enumerate(selected)}
    statuses.sort(key=lambda s: order[s.name])
    return SearchResult(region, ranked, statuses, time.perf_counter() - started, total=total if paged else None,
                        offset=offset, next_cursor=next_cursor)


def _live_task(registry, name: str, options: dict, region: Region, deadline_s: float):
    def run():
        registry.limits.check_source(name, options)
        return registry.source(name).query(region, timeout=deadline_s)
    return run


def _update_latencies(registry, samples: dict[str, float]) -> dict[str, float | None]:
    """Fold this search's live-source timings into each source's moving average."""
    with registry.Session.begin() as session:
        result = {}
        for row in session.scalars(select(SourceRow)):
            if row.name in samples:
                record_latency(row, [samples[row.name]])
            result[row.name] = row.latency_s
    return result


def _index_matches(registry, region: Region, names: list[str], meter: CoverageMeter, readable: set[str]) -> tuple:
    """Harvested datasets of ``names`` overlapping ``region`` that the caller may see."""
    granted = sorted(set(names) & readable)
    public_only = [n for n in names if n not in readable]
    orders, q3c = registry.index_orders(), registry.has_q3c_index()
    with registry.engine.connect() as conn:
        rows = index_query.candidates(conn, region, orders, public_only=public_only, granted=granted, q3c=q3c)
    return index_query.index_matches(rows, region, meter)


def _hit(record: DatasetRecord, meter: CoverageMeter) -> Hit:
    coverage, inside = meter.measure(record.footprint.moc)
    return Hit(record.dataset_id, record.version, record.source, record.uri, record.sha256, record.title,
               float(record.center.ra.deg), float(record.center.dec.deg), float(record.fov.deg),
               record.access_tier, coverage, inside, record=record)


def _matches(registry, rows: list, coverage, inside, live_hits: list[Hit]) -> Matches:
    """The index's matching rows (candidate columns) and the live sources' hits as one :class:`Matches`; the
    rows of the page are read when it is known."""
    n = len(rows)
    page = {}

    def prepare(order: list[int]) -> None:
        wanted = [rows[i].pk for i in order if i < n]
        if wanted:
            with registry.engine.connect() as conn:
                page.update(index_query.page_rows(conn, wanted))
            if len(page) < len(set(wanted)):
                raise _RowsGone()

    return Matches([r.dataset_id for r in rows] + [h.dataset_id for h in live_hits],
                   [r.version for r in rows] + [h.version for h in live_hits],
                   [r.source for r in rows] + [h.source for h in live_hits],
                   np.concatenate([np.asarray(coverage, float), [h.coverage for h in live_hits]]),
                   lambda i: index_query.row_hit(page[rows[i].pk], coverage[i], inside[i]) if i < n
                   else live_hits[i - n], prepare)
