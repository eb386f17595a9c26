"""The hub service's log of the capsules it signed: who asked, which key, when."""

from __future__ import annotations

from sqlalchemy import select

from ..store.compute_models import CapsuleSignatureRow
from ..store.times import utcnow


class SignatureLog:
    def __init__(self, sessions):
        self.sessions = sessions

    def record(self, *, capsule_id: str, user: str, key_id: str) -> None:
        with self.sessions.begin() as session:
            session.add(CapsuleSignatureRow(capsule_id=capsule_id, user=user, key_id=key_id, signed_at=utcnow()))

    def list(self, *, user: str | None = None) -> list[dict]:
        """Newest first; one user's when ``user`` is given."""
        query = select(CapsuleSignatureRow).order_by(CapsuleSignatureRow.id.desc())
        if user is not None:
            query = query.where(CapsuleSignatureRow.user == user)
        with self.sessions() as session:
            return [{"capsule_id": r.capsule_id, "user": r.user, "key_id": r.key_id,
                     "signed_at": r.signed_at.isoformat() + "Z"} for r in session.scalars(query)]
