"""Harvesting a source into the registry: incremental, idempotent, all-or-nothing."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..store import DatasetRow, LineageRow, SourceRow
from ..store.times import utcnow
from .base import Skipped, Source, Unchanged
from .bulk import load
from .records import DatasetRecord, namespaced
from .rows import row_values

Progress = Callable[[int, str], None]
EWMA_ALPHA = 0.3  # weight of the newest sample in a source's mean latency


@dataclass
class SyncReport:
    source: str
    status: str = "ok"  # ok | unchanged | error | rate_limited | unauthorized | timeout | skipped
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    withdrawn: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    message: str | None = None
    elapsed_s: float = 0.0
    versions: list[dict] = field(default_factory=list)  # {id, version, sha256} added, or changed in place

    def to_json(self) -> dict:
        return {
            "source": self.source, "status": self.status, "added": self.added, "updated": self.updated,
            "unchanged": self.unchanged, "withdrawn": self.withdrawn, "elapsed_s": round(self.elapsed_s, 3),
            "skipped": [{"uri": s.uri, "reason": s.reason} for s in self.skipped], "versions": self.versions,
            **({"message": self.message} if self.message else {}),
        }


def harvest_into(session: Session, source: Source, report: SyncReport,
                 progress: Progress | None = None) -> list[float]:
    """Apply one harvest inside the caller's transaction. Returns per-item latencies (s)."""
    existing = {
        (r.dataset_id, r.version): r
        for r in session.scalars(select(DatasetRow).where(DatasetRow.source == source.name))
    }
    known = {r.uri: r.etag for r in existing.values() if r.etag and r.withdrawn_at is None}
    seen: set[str] = set()
    latencies: list[float] = []
    now = utcnow()
    items = source.harvest(known)
    done = 0
    while True:
        started = time.perf_counter()
        item = next(items, None)
        if item is None:
            break
        latencies.append(time.perf_counter() - started)
        done += 1
        if isinstance(item, Unchanged):
            seen.add(item.uri)
            report.unchanged += 1
        elif isinstance(item, Skipped):
            report.skipped.append(item)
        elif isinstance(item, DatasetRecord) and item.dataset_id != namespaced(source.name, item.dataset_id):
            report.skipped.append(Skipped(item.uri, f"its id {item.dataset_id[:120]!r} is not in the source's "
                                                    f"namespace '{source.name}:'"))
        elif isinstance(item, DatasetRecord):
            seen.add(item.uri)
            _upsert(session, existing, item, report, now)
        if progress:
            progress(done, getattr(item, "uri", ""))
    for stored in existing.values():
        if stored.uri not in seen and stored.withdrawn_at is None:
            stored.withdrawn_at = now
            report.withdrawn += 1
    return latencies


def bulk_into(session: Session, source: Source, report: SyncReport, fingerprint: str | None) -> None:
    """Load a catalogue source (``source.bulk``) inside the caller's transaction (see :mod:`.bulk`)."""
    loaded = load(session.connection(), source.name, source.table(), fingerprint=fingerprint or "-")
    report.added, report.unchanged, report.withdrawn = loaded.added, loaded.unchanged, loaded.withdrawn
    report.updated = loaded.restored
    report.versions = loaded.new_versions


def _upsert(session, existing, record: DatasetRecord, report: SyncReport, now) -> None:
    values = row_values(record)
    stored = existing.get(record.key)
    if stored is None:
        row = DatasetRow(**values, ingested_at=now, withdrawn_at=None)
        session.add(row)
        session.flush()
        existing[record.key] = row
        _set_lineage(session, row, record)
        report.added += 1
        report.versions.append({"id": row.dataset_id, "version": row.version, "sha256": row.sha256})
    elif stored.digest == values["digest"] and stored.withdrawn_at is None:
        stored.etag = values["etag"]
        report.unchanged += 1
    else:
        for key, value in values.items():
            setattr(stored, key, value)
        stored.withdrawn_at = None
        _set_lineage(session, stored, record)
        report.updated += 1
        report.versions.append({"id": stored.dataset_id, "version": stored.version, "sha256": stored.sha256})


def _set_lineage(session, row: DatasetRow, record: DatasetRecord) -> None:
    session.query(LineageRow).filter(LineageRow.child_pk == row.pk).delete()
    for pin in dict.fromkeys(record.derived_from):
        session.add(LineageRow(child_pk=row.pk, parent_pin=pin))


def staleness(row: SourceRow) -> dict:
    """A harvested source whose last sync failed is still searched, from what was synced: say since when."""
    if row.last_status in (None, "ok"):
        return {}
    synced = row.synced_at.isoformat() + "Z" if row.synced_at else None
    return {"stale": True, "synced_at": synced,
            "message": f"last sync failed ({row.last_error or row.last_status}); showing the datasets synced at "
                       f"{synced or 'no time (never synced)'}"}


def record_latency(row: SourceRow, samples: Iterable[float]) -> None:
    """Fold response times (s) into the source's moving-average latency."""
    for sample in samples:
        row.latency_s = sample if row.latency_s is None else (1 - EWMA_ALPHA) * row.latency_s + EWMA_ALPHA * sample
        row.latency_samples = (row.latency_samples or 0) + 1


def mark_failed(session: Session, name: str, report: SyncReport) -> None:
    """Record a failed sync on the source's row (its datasets stay, and are served as stale)."""
    row = session.scalar(select(SourceRow).where(SourceRow.name == name))
    if row is not None:
        row.last_status, row.last_error = report.status, report.message
