"""The federated registry: sources, sync, versions and lineage; region search is :mod:`.search`'s."""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor

import astropy.units as u
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from ..exceptions import (
    Conflict,
    InvalidArgument,
    UnknownDataset,
    UnknownSource,
    VlassError,
)
from ..hub_client import hub_registry_applies
from ..store import (
    DatasetRow,
    LineageRow,
    SourceRow,
    make_engine,
    session_factory,
    utcnow,
)
from . import index_query
from .access import hub_groups, readable_sources, visible
from .base import SECRET_OPTION_KEYS, Source
from .credentials import resolve_credentials
from .hub_registry import HubRegistry
from .limits import Limits
from .opened import note_opened
from .options import checked_options
from .plugins import source_class
from .query import outcome_of
from .ranking import Weights, version_key
from .records import DatasetRecord, citation_key
from .region import Region
from .results import Hit, SearchResult
from .rows import row_to_record
from .search import search
from .sync import (
    Progress,
    SyncReport,
    bulk_into,
    harvest_into,
    mark_failed,
    record_latency,
)

NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")


class Registry:
    """Dataset registry over an SQLAlchemy store (an SQLite file by default).

    >>> reg = Registry("sqlite:///registry.sqlite")                     # doctest: +SKIP
    >>> reg.search(Region.from_degrees(210.0, -19.0, 0.5))              # doctest: +SKIP

    Under a hub whose service holds the registry, ``Registry()`` with no URL is the service's
    (:class:`~.hub_registry.HubRegistry`): the same calls, answered there for the caller's identity.
    """

    def __new__(cls, url: str | Engine | None = None, **options):
        if cls is Registry and url is None and hub_registry_applies():
            return HubRegistry.from_environment(credentials=options.get("credentials"),
                                                use_hub_token=options.get("use_hub_token", False))
        return super().__new__(cls)

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
        cls = source_class(kind)
        options = checked_options(kind, cls.OPTIONS, options or {})  # typed, each bad one named
        source = cls(name, uri, options=options)  # validates the URI
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
        creds = resolve_credentials(name, uri=spec[1], config=self._credentials, use_hub_token=self._use_hub_token)
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

    # search (federation/search.py) -------------------------------------------------------------
    def index_orders(self) -> dict[int, float]:
        """The index orders present, each with its largest footprint radius (read once per process and sync)."""
        if self._shared["orders"] is None:
            with self.engine.connect() as conn:
                self._shared["orders"] = index_query.index_orders(conn)
        return self._shared["orders"]

    def has_q3c_index(self) -> bool:
        """Whether the footprint table has the Q3C index (PostgreSQL, migration 0007); read once per process."""
        if self._shared["q3c"] is None:
            with self.engine.connect() as conn:
                self._shared["q3c"] = index_query.has_q3c_index(conn)
        return self._shared["q3c"]

    def search(self, region: Region, *, sources: Iterable[str] | None = None,
               deadline: u.Quantity | float = 2 * u.s, user: str | None = None,
               limit: int | None = None, cursor: str | None = None) -> SearchResult:
        """Every dataset version overlapping ``region``, ranked, with a status per source; with ``limit``
        (and the ``next_cursor`` of the page before), one page of that ranking and its ``total``
        (:func:`.search.search`)."""

        return search(self, region, sources=sources, deadline=deadline, user=user, limit=limit, cursor=cursor)

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

    def ancestors(self, pins: Iterable[str], *, limit: int = 1000) -> list[tuple[str, bool]]:
        """What the dataset versions ``pins`` (``<id>@<version>``) derive from, up the lineage, nearest first:
        ``(<id>@<version>, visible)`` where ``visible`` says whether the caller may see it (a mark on a
        restricted parent still reaches what derives from it, without naming it to those it is hidden from)."""
        readable = self._readable_sources()
        todo, seen, found = list(pins), set(pins), []
        with self.Session() as session:
            while todo and len(found) < limit:
                dataset_id, _, version = todo.pop(0).rpartition("@")
                parent_pins = session.scalars(
                    select(LineageRow.parent_pin).join(DatasetRow, LineageRow.child_pk == DatasetRow.pk)
                    .where(DatasetRow.dataset_id == dataset_id, DatasetRow.version == version)).all()
                for parent_pin in parent_pins:
                    uri, _, parent_version = parent_pin.rpartition("@")
                    parent = session.scalars(select(DatasetRow).where(DatasetRow.uri == uri,
                                                                      DatasetRow.version == parent_version)).first()
                    pin = parent and f"{parent.dataset_id}@{parent.version}"
                    if parent is not None and pin not in seen:
                        seen.add(pin)
                        todo.append(pin)
                        found.append((pin, visible(parent.source, parent.access_tier, readable)))
        return found

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
        # A parent the caller may not see is not named (its id, its URI): only that there is one.
        hidden = {pin for pin, row in parents.items() if not visible(row.source, row.access_tier, readable)}
        versions = []
        for record, withdrawn_at in pairs:
            doc = record.summary()
            doc["withdrawn_at"] = withdrawn_at.isoformat() + "Z" if withdrawn_at else None
            doc["derived_from"] = ["restricted" if pin in hidden else pin for pin in record.derived_from]
            doc["derived_from_resolved"] = [
                {"pin": None, "id": None, "version": None, "restricted": True} if pin in hidden else
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

    def cutout(self, record: DatasetRecord, region) -> bytes:
        """A FITS file of the square cutout around the region (for a caller who may see the dataset)."""
        from .cutout import cutout_fits

        with self.open(record) as fh:
            return cutout_fits(fh, region)

    def may_view_source(self, name: str) -> bool:
        """Whether the caller may see everything a source serves (its HiPS survey, say): a source
        holding restricted or embargoed datasets serves its survey only to the groups it grants."""
        with self.Session() as session:
            self._source_row(session, name)
            hidden = session.scalar(select(func.count()).where(
                DatasetRow.source == name, DatasetRow.access_tier != "public"))
        return not hidden or name in self._readable_sources()


