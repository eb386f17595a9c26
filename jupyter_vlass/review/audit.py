"""An append-only, hash-chained audit trail (hub-wide: votes, publish-gate overrides, post-publication marks).

Each entry's hash is the sha256 of the previous entry's hash and its own canonical JSON (sequence number,
time, actor, action, subject, detail), so changing, removing or reordering any entry breaks the chain from
there on; :meth:`AuditTrail.verify` names the first entry that does not match.
"""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import func, select

from ..exceptions import CorruptData
from ..store.consensus_models import AuditEntryRow
from ..store.session import write
from ..store.times import utcnow

GENESIS = "0" * 64


class AuditBroken(CorruptData):
    reason = "audit_broken"


def entry_hash(previous: str, doc: dict) -> str:
    return hashlib.sha256((previous + json.dumps(doc, sort_keys=True, separators=(",", ":"))).encode()).hexdigest()


def _doc(row: AuditEntryRow) -> dict:
    return {"seq": row.seq, "at": row.at.isoformat() + "Z", "actor": row.actor, "action": row.action,
            "subject": row.subject, "detail": row.detail or {}}


class AuditTrail:
    def __init__(self, sessions):
        self.sessions = sessions

    def append(self, *, actor: str, action: str, subject: str, detail: dict | None = None, session=None) -> dict:
        """Add an entry (inside ``session`` when given, so it commits with what it records)."""
        if session is None:
            return write(self.sessions, lambda own: self.append(actor=actor, action=action, subject=subject,
                                                                 detail=detail, session=own))
        last = session.execute(select(AuditEntryRow).order_by(AuditEntryRow.seq.desc()).limit(1)
                               .with_for_update()).scalar_one_or_none()
        row = AuditEntryRow(seq=(last.seq + 1) if last else 1, at=utcnow().replace(microsecond=0), actor=actor,
                            action=action, subject=subject, detail=detail or {},
                            previous=last.hash if last else GENESIS)
        row.hash = entry_hash(row.previous, _doc(row))
        session.add(row)
        session.flush()
        return {**_doc(row), "hash": row.hash}

    def entries(self, *, subject: str | None = None, action: str | None = None) -> list[dict]:
        query = select(AuditEntryRow).order_by(AuditEntryRow.seq)
        if subject is not None:
            query = query.where(AuditEntryRow.subject == subject)
        if action is not None:
            query = query.where(AuditEntryRow.action == action)
        with self.sessions() as session:
            return [{**_doc(r), "hash": r.hash} for r in session.scalars(query)]

    def verify(self) -> dict:
        """``{"entries": n, "head": hash}``; AuditBroken naming the first entry that was changed or removed."""
        previous, expected = GENESIS, 1
        with self.sessions() as session:
            for row in session.scalars(select(AuditEntryRow).order_by(AuditEntryRow.seq)):
                if row.seq != expected:
                    raise AuditBroken(f"audit entry {expected} is missing (the next is {row.seq})")
                if row.previous != previous or row.hash != entry_hash(previous, _doc(row)):
                    raise AuditBroken(f"audit entry {row.seq} ({row.action} {row.subject}) was changed")
                previous, expected = row.hash, expected + 1
            count = session.scalar(select(func.count()).select_from(AuditEntryRow))
        return {"entries": count, "head": previous}
