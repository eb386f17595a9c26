"""The federated registry: sources, sync, region search, versions and lineage."""

from __future__ import annotations

import copy
import re
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable, Iterable, Mapping

import astropy.units as u
import numpy as np
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from ..exceptions import Conflict, InvalidArgument, UnknownDataset, UnknownSource, VlassError
from ..store import DatasetRow, LineageRow, SourceRow, make_engine, session_factory, utcnow
from .access import ACCESS_GROUPS_OPTION, hub_groups, parse_groups, readable_sources, visible
from .base import SECRET_OPTION_KEYS, Source
from .credentials import resolve_credentials
from . import index_query, paging
from .index import CoverageMeter
from .limits import Limits
from .opened import note_opened
from .plugins import source_class
from .query import fan_out, outcome_of, run_inline, status_for
from .ranking import Matches, Weights, rank_page, version_key
from .records import DatasetRecord, citation_key
from .region import Region
from .results import Hit, SearchResult, SourceStatus
from .rows import row_to_record
from .sync import Progress, SyncReport, bulk_into, harvest_into, mark_failed, record_latency, staleness

NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
INDEX_TASK = "\0index"


class Registry:
    """Dataset registry over an SQLAlchemy store (an SQLite file by default).

    >>> reg = Registry("sqlite:///registry.sqlite")                     # doctest: +SKIP
    >>> reg.search(Region.from_degrees(210.0, -19.0, 0.5))              # doctest: +SKIP
    """

    def __init__(self, url: str | Engine | None = None, *, credentials: Mapping | None = None,
                 use_hub_token: bool = False, user_quota: str | None = None, weights: Weights | None = None,
                 groups: Iterable[str] | None = None, shared_quota: Callable[[str], None] | None = None):
        """``groups``: the caller's groups, for restricted and embargoed datasets (default: the groups of
        the hub user this process runs for, none outside a hub)."""
        self.engine = url if isinstance(url, Engine) else make_engine(url)
        self.groups = frozenset(hub_groups() if groups is None else groups)
        self.Session = session_factory(self.engine)
        self.limits = Limits(user_quota=user_quota, shared=shared_quota)
        self.weights = weights or Weights()
        self._credentials = dict(credentials or {})
        self._use_hub_token = use_hub_token
        # Shared with every viewer() copy: the index orders present, each with its largest footprint radius
        # (a scan of the whole table: once per process and sync, never per request), and whether the table
        # has the Q3C index (PostgreSQL, migration 0007).
        self._shared: dict[str, object] = {"orders": None, "q3c": None}
        self._instances: dict[str, tuple[tuple, Source]] = {}
        self.executor = ThreadPoolExecutor(max_workers=32, thread_name_prefix="vlass-source")  # live sources

    def close(self) -> None:
        """Stop the live-source threads (views made with :meth:`viewer` share them)."""
        self.executor.shutdown(wait=False, cancel_futures=True)

    def viewer(self, groups: Iterable[str]) -> Registry:
        """The same registry as seen by a caller in ``groups`` (shares the engine and source instances)."""
        view = copy.copy(self)
        view.groups = frozenset(groups)
        return view

    # access ------------------------------------------------------------------------------------
    def _readable_sources(self) -> set[str]:
        with self.engine.connect() as conn:
            options = dict(conn.execute(select(SourceRow.name, SourceRow.options)).all())
        return readable_sources({n: o or {} for n, o in options.items()}, self.groups)

    # sources -----------------------------------------------------------------------------------
    def add_source(self, name: str, kind: str, uri: str, *, options: Mapping | None = None) -> dict:
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise InvalidArgument(f"source name must match {NAME_RE.pattern} (lower case, digits, - and _), got {name!r}")
        options = dict(options or {})
        for key, value in options.items():
            if not isinstance(key, str) or not isinstance(value, (str, int, float, bool)):
                raise InvalidArgument(f"option {key!r} must be a plain string, number or boolean")
        parse_groups(options.get(ACCESS_GROUPS_OPTION))
        if options.get("rate_limit"):
            from .limits import parse_rate

            parse_rate(options["rate_limit"])
        source = source_class(kind)(name, uri, options=options)  # validates kind, URI and options
        with self.Session.begin() as session:
            if session.scalar(select(SourceRow).where(SourceRow.name == name)):
                raise Conflict(f"a source named {name!r} already exists", reason="source_exists")
            session.add(SourceRow(name=name, kind=kind, uri=source.uri, options=options, enabled=True,
                                  created_at=utcnow(), latency_samples=0))
        return source.describe()

    def remove_source(self, name: str) -> None:
        with self.Session.begin() as session:
            row = self._source_row(session, name)
            session.query(DatasetRow).filter(DatasetRow.source == name).delete()
            session.delete(row)
        self._shared["orders"] = None

    def _source_row(self, session, name: str) -> SourceRow:
        row = session.scalar(select(SourceRow).where(SourceRow.name == name))
        if row is None:
            raise UnknownSource(f"no source named {name!r}")
        return row

    def source(self, name: str) -> Source:
        with self.Session() as session:
            row = self._source_row(session, name)
            spec = (row.kind, row.uri, tuple(sorted(row.options.items())))
        cached = self._instances.get(name)
        if cached and cached[0] == spec:
            return cached[1]
        creds = resolve_credentials(name, config=self._credentials, use_hub_token=self._use_hub_token)
        instance = source_class(spec[0])(name, spec[1], options=dict(spec[2]), credentials=creds)
        self._instances[name] = (spec, instance)
        return instance

    def sources(self) -> list[dict]:
        with self.Session() as session:
            rows = session.scalars(select(SourceRow).order_by(SourceRow.name)).all()
            readable = readable_sources({r.name: r.options or {} for r in rows}, self.groups)
            counts: dict[str, int] = {}
            for source, tier, count in session.execute(
                    select(DatasetRow.source, DatasetRow.access_tier, func.count())
                    .where(DatasetRow.withdrawn_at.is_(None)).group_by(DatasetRow.source, DatasetRow.access_tier)):
                if visible(source, tier, readable):
                    counts[source] = counts.get(source, 0) + count
        return [{
            "name": r.name, "kind": r.kind, "uri": r.uri, "enabled": r.enabled,
            "live": source_class(r.kind).live,
            "options": {k: v for k, v in r.options.items() if k not in SECRET_OPTION_KEYS},
            "datasets": counts.get(r.name, 0),
            "synced_at": r.synced_at.isoformat() + "Z" if r.synced_at else None,
            "checked_at": r.checked_at.isoformat() + "Z" if r.checked_at else None,
            "stale": r.last_status not in (None, "ok"),
            "latency_s": r.latency_s, "last_status": r.last_status, "last_error": r.last_error,
        } for r in rows]

    # sync --------------------------------------------------------------------------------------
    def sync(self, name: str | None = None, *, force: bool = False, progress: Progress | None = None) -> list[SyncReport]:
        with self.Session() as session:
            names = [name] if name else [r.name for r in session.scalars(select(SourceRow).order_by(SourceRow.name))]
            if name:
                self._source_row(session, name)
        return [self._sync_one(n, force=force, progress=progress) for n in names]

    def _sync_one(self, name: str, *, force: bool, progress: Progress | None) -> SyncReport:
        report = SyncReport(name)
        started = time.perf_counter()
        try:
            source = self.source(name)
            if source.live:
                report.status, report.message = "skipped", "live source: queried at search time"
                return report
            with self.Session() as session:
                row = self._source_row(session, name)
                self.limits.check_source(name, row.options)
                fingerprint = source.fingerprint()
                if not force and fingerprint and fingerprint == row.fingerprint and row.last_status == "ok":
                    report.status = "unchanged"
            if report.status == "unchanged":
                with self.Session.begin() as session:
                    self._source_row(session, name).checked_at = utcnow()
                return report
            with self.Session.begin() as session:
                row = self._source_row(session, name)
                if getattr(source, "bulk", False):
                    bulk_into(session, source, report, fingerprint)
                else:
                    record_latency(row, harvest_into(session, source, report, progress)[:50])
                row.fingerprint, row.synced_at = fingerprint, utcnow()
                row.checked_at = row.synced_at
                row.last_status, row.last_error = "ok", None
        except VlassError as exc:
            report.status, report.message = outcome_of(exc), exc.message
            with self.Session.begin() as session:
                mark_failed(session, name, report)
        finally:
            report.elapsed_s = time.perf_counter() - started
            self._shared["orders"] = None
        return report

    # search ------------------------------------------------------------------------------------
    def _index_orders(self) -> dict[int, float]:
        if self._shared["orders"] is None:
            with self.engine.connect() as conn:
                self._shared["orders"] = index_query.index_orders(conn)
        return self._shared["orders"]

    def search(self, region: Region, *, sources: Iterable[str] | None = None,
               deadline: u.Quantity | float = 2 * u.s, user: str | None = None,
               limit: int | None = None, cursor: str | None = None) -> SearchResult:
        """Every dataset version overlapping ``region``, ranked, with a status per source; with ``limit``
        (and the ``next_cursor`` of the page before), one page of that ranking and its ``total``."""
        if not isinstance(region, Region):
            raise InvalidArgument("region must be a jupyter_vlass.federation.Region")
        deadline_s = deadline.to_value(u.s) if isinstance(deadline, u.Quantity) else float(deadline)
        if not 0 < deadline_s <= 600:
            raise InvalidArgument(f"deadline must be in (0, 600] seconds, got {deadline_s:g}")
        started = time.perf_counter()
        with self.engine.connect() as conn:  # one read: kinds, access options, latencies, sync state
            rows_of = index_query.source_rows(conn)
        selected = list(rows_of) if sources is None else list(dict.fromkeys(sources))
        for name in selected:
            if name not in rows_of:
                raise UnknownSource(f"no source named {name!r}")
        paged = limit is not None or cursor is not None
        offset = paging.decode_cursor(cursor, region, selected) if paged else 0
        limit = paging.check_limit(paging.DEFAULT_LIMIT if limit is None else limit) if paged else None
        try:
            self.limits.check_user(user)
        except VlassError as exc:
            statuses = [status_for(n, exc, 0.0) for n in selected]
            return SearchResult(region, [], statuses, time.perf_counter() - started)
        harvested = [n for n in selected if not source_class(rows_of[n].kind).live]
        live = [n for n in selected if source_class(rows_of[n].kind).live]
        meter = CoverageMeter(region)
        readable = readable_sources({n: r.options or {} for n, r in rows_of.items()}, self.groups)
        tasks = {INDEX_TASK: lambda: self._index_matches(region, harvested, meter, readable)} if harvested else {}
        for name in live:
            tasks[name] = self._live_task(name, rows_of[name].options, region, deadline_s)
        # With no live source to wait for, the local index lookup runs inline (no thread hop).
        outcomes = fan_out(tasks, deadline_s, self.executor) if live else {INDEX_TASK: run_inline(tasks[INDEX_TASK])} if harvested else {}
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
                found = [self._hit(rec, meter) for rec in outcome.value
                         if visible(rec.source, rec.access_tier, readable)]
                found = [h for h in found if h.coverage > 0]
                live_hits.extend(found)
                outcome.status.count = len(found)
            if outcome.status.status in ("ok", "timeout"):
                live_latency[name] = outcome.status.elapsed_s
            statuses.append(outcome.status)
        latencies = self._update_latencies(live_latency) if live_latency else \
            {n: r.latency_s for n, r in rows_of.items()}
        matches = _matches(rows, coverage, inside, live_hits)
        total = len(matches)
        ranked = rank_page(matches, latencies, self.weights, offset, None if limit is None else offset + limit)
        next_cursor = None
        if paged and offset + limit < total:  # a page of the full ranking (see .paging)
            next_cursor = paging.encode_cursor(offset + limit, region, selected)
        order = {n: i for i, n in enumerate(selected)}
        statuses.sort(key=lambda s: order[s.name])
        return SearchResult(region, ranked, statuses, time.perf_counter() - started, total=total if paged else None,
                            offset=offset, next_cursor=next_cursor)

    def _live_task(self, name: str, options: dict, region: Region, deadline_s: float):
        def run():
            self.limits.check_source(name, options)
            return self.source(name).query(region, timeout=deadline_s)
        return run

    def _update_latencies(self, samples: dict[str, float]) -> dict[str, float | None]:
        """Fold this search's live-source timings into each source's moving average."""
        with self.Session.begin() as session:
            result = {}
            for row in session.scalars(select(SourceRow)):
                if row.name in samples:
                    record_latency(row, [samples[row.name]])
                result[row.name] = row.latency_s
        return result

    def _index_matches(self, region: Region, names: list[str], meter: CoverageMeter, readable: set[str]) -> tuple:
        """Harvested datasets of ``names`` overlapping ``region`` that the caller may see."""
        granted = sorted(set(names) & readable)
        public_only = [n for n in names if n not in readable]
        with self.engine.connect() as conn:
            if self._shared.get("q3c") is None:
                self._shared["q3c"] = index_query.has_q3c_index(conn)
            rows = index_query.candidates(conn, region, self._index_orders(), public_only=public_only, granted=granted,
                                          q3c=self._shared["q3c"])
        return index_query.index_matches(rows, region, meter)

    @staticmethod
    def _hit(record: DatasetRecord, meter: CoverageMeter) -> Hit:
        coverage, inside = meter.measure(record.footprint.moc)
        return Hit(record.dataset_id, record.version, record.source, record.uri, record.sha256, record.title,
                   float(record.center.ra.deg), float(record.center.dec.deg), float(record.fov.deg),
                   record.access_tier, coverage, inside, record=record)

    def records_for(self, hits: list[Hit]) -> list[DatasetRecord]:
        """Full records of search hits, in the hits' order (one query for the stored ones)."""
        wanted = {(h.dataset_id, h.version) for h in hits if h.record is None}
        stored = {}
        if wanted:
            with self.Session() as session:
                for row in session.scalars(select(DatasetRow).where(
                        DatasetRow.dataset_id.in_({k[0] for k in wanted}))):
                    if (row.dataset_id, row.version) in wanted:
                        stored[(row.dataset_id, row.version)] = row_to_record(row)
        return [h.record if h.record is not None else stored[(h.dataset_id, h.version)] for h in hits]

    # datasets, versions, lineage -----------------------------------------------------------------
    def _version_rows(self, dataset_id: str) -> list[tuple[DatasetRecord, object]]:
        readable = self._readable_sources()
        with self.Session() as session:
            rows = session.scalars(select(DatasetRow).where(DatasetRow.dataset_id == dataset_id)).all()
            pairs = [(row_to_record(r), r.withdrawn_at) for r in rows
                     if visible(r.source, r.access_tier, readable)]
        if not pairs:
            raise UnknownDataset(f"no dataset with id {dataset_id!r}")
        return sorted(pairs, key=lambda p: version_key(p[0].version), reverse=True)

    def versions(self, dataset_id: str) -> list[DatasetRecord]:
        """All versions, newest first (withdrawn ones included: citations must keep resolving)."""
        return [record for record, _ in self._version_rows(dataset_id)]

    def get(self, dataset_id: str, version: str | None = None) -> DatasetRecord:
        """One version (the newest when ``version`` is None); inside a job, noted as opened (:mod:`.opened`)."""
        records = self.versions(dataset_id)
        found = records[0] if version is None else next((r for r in records if r.version == version), None)
        if found is None:
            raise UnknownDataset(f"dataset {dataset_id!r} has no version {version!r} "
                                 f"(versions: {', '.join(r.version for r in records)})")
        return note_opened(found)

    def describe(self, dataset_id: str) -> dict:
        """Every version with its citation, plus lineage both ways."""
        pairs = self._version_rows(dataset_id)
        pins = {citation_key(r): r for r, _ in pairs}
        parent_pins = {pin for r, _ in pairs for pin in r.derived_from}
        with self.Session() as session:
            parents = {}
            if parent_pins:
                for row in session.scalars(select(DatasetRow).where(
                        DatasetRow.uri.in_({p.rsplit("@", 1)[0] for p in parent_pins}))):
                    parents[f"{row.uri}@{row.version}"] = row
            readable = self._readable_sources()
            children = [c for c in session.execute(
                select(DatasetRow.dataset_id, DatasetRow.version, LineageRow.parent_pin, DatasetRow.source,
                       DatasetRow.access_tier)
                .join(LineageRow, LineageRow.child_pk == DatasetRow.pk)
                .where(LineageRow.parent_pin.in_(list(pins)))).all() if visible(c[3], c[4], readable)]
        versions = []
        for record, withdrawn_at in pairs:
            doc = record.summary()
            doc["withdrawn_at"] = withdrawn_at.isoformat() + "Z" if withdrawn_at else None
            doc["derived_from_resolved"] = [
                {"pin": pin, "id": parents[pin].dataset_id if pin in parents else None,
                 "version": parents[pin].version if pin in parents else None}
                for pin in record.derived_from]
            doc["derivatives"] = sorted(f"{c[0]}@{c[1]}" for c in children if c[2] == citation_key(record))
            versions.append(doc)
        return {"id": dataset_id, "latest": pairs[0][0].version, "versions": versions}

    def open(self, record: DatasetRecord):
        """A file object of the dataset's bytes (only for a caller who may see it)."""
        if not visible(record.source, record.access_tier, self._readable_sources()):
            raise UnknownDataset(f"no dataset with id {record.dataset_id!r}")
        return self.source(record.source).open(note_opened(record))

    def may_view_source(self, name: str) -> bool:
        """Whether the caller may see everything a source serves (its HiPS survey, say): a source
        holding restricted or embargoed datasets serves its survey only to the groups it grants."""
        with self.Session() as session:
            self._source_row(session, name)
            hidden = session.scalar(select(func.count()).where(
                DatasetRow.source == name, DatasetRow.access_tier != "public"))
        return not hidden or name in self._readable_sources()


def _matches(rows: list, coverage, inside, live_hits: list[Hit]) -> Matches:
    """The index's matching rows and the live sources' hits as one :class:`Matches`."""
    n = len(rows)
    return Matches([r.dataset_id for r in rows] + [h.dataset_id for h in live_hits],
                   [r.version for r in rows] + [h.version for h in live_hits],
                   [r.source for r in rows] + [h.source for h in live_hits],
                   np.concatenate([np.asarray(coverage, float), [h.coverage for h in live_hits]]),
                   lambda i: index_query.row_hit(rows[i], coverage[i], inside[i]) if i < n else live_hits[i - n])
