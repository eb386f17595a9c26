"""Admin approval of large requests (above a threshold in GPU-hours), each decision kept with who and why."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ..exceptions import ApprovalDenied, AwaitingApproval, Conflict, InvalidArgument, UnknownApproval
from ..store import ApprovalRow
from ..store.times import utcnow
from .resources import ResourceRequest

MAX_REASON = 2000


def request_digest(user: str, profile: str, request: ResourceRequest) -> str:
    canonical = json.dumps({"user": user, "profile": profile, "request": request.to_json()}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Approval:
    id: int
    user: str
    project: str
    profile: str
    request: dict
    gpu_hours: float
    status: str
    created_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None
    used: bool

    @classmethod
    def of(cls, row: ApprovalRow) -> Approval:
        return cls(row.id, row.user, row.project, row.profile, row.request, row.gpu_hours, row.status,
                   row.created_at, row.decided_by, row.decided_at, row.reason, row.used_at is not None)

    def to_json(self) -> dict:
        def iso(t):
            return t.isoformat() + "Z" if t else None
        return {"id": self.id, "user": self.user, "project": self.project, "profile": self.profile,
                "request": self.request, "gpu_hours": round(self.gpu_hours, 3), "status": self.status,
                "created_at": iso(self.created_at), "decided_by": self.decided_by,
                "decided_at": iso(self.decided_at), "reason": self.reason, "used": self.used}


class Approvals:
    def __init__(self, sessions: sessionmaker[Session], *, threshold_gpu_hours: float):
        self._sessions = sessions
        self.threshold = threshold_gpu_hours

    def needs_approval(self, request: ResourceRequest) -> bool:
        return request.gpu_hours > self.threshold

    def gate(self, *, user: str, project: str, profile: str, request: ResourceRequest) -> Approval | None:
        """None when no approval is needed; the approval to use when granted.

        Raises :class:`AwaitingApproval` (filing the request the first time) or :class:`ApprovalDenied`
        (once; the next attempt files a new request).
        """
        if not self.needs_approval(request):
            return None
        digest = request_digest(user, profile, request)
        with self._sessions.begin() as session:  # commit the new or used row before raising
            row = session.scalars(select(ApprovalRow).where(ApprovalRow.digest == digest, ApprovalRow.used_at.is_(None))
                                  .order_by(ApprovalRow.id.desc())).first()
            if row is None:
                row = ApprovalRow(user=user, project=project, profile=profile, request=request.to_json(),
                                  digest=digest, gpu_hours=request.gpu_hours, status="pending", created_at=utcnow())
                session.add(row)
                session.flush()
            if row.status == "denied":
                row.used_at = utcnow()
            approval = Approval.of(row)
        if approval.status == "approved":
            return approval
        if approval.status == "denied":
            raise ApprovalDenied(f"Request #{approval.id} ({request.describe()}) was denied by {approval.decided_by}: "
                                 f"{approval.reason or 'no reason given'}")
        error = AwaitingApproval(
            f"Request #{approval.id} ({request.describe()}, {request.gpu_hours:g} GPU-hours) is above the "
            f"{self.threshold:g} GPU-hour threshold and is awaiting an admin's approval.")
        error.approval_id = approval.id
        raise error

    def mark_used(self, approval_id: int) -> None:
        with self._sessions.begin() as session:
            row = session.get(ApprovalRow, approval_id)
            if row is not None and row.used_at is None:
                row.used_at = utcnow()

    def decide(self, approval_id: int | str, *, by: str, approve: bool, reason: str = "") -> Approval:
        if not isinstance(reason, str) or len(reason) > MAX_REASON:
            raise InvalidArgument(f"reason: must be text of at most {MAX_REASON} characters")
        with self._sessions.begin() as session:
            row = _row(session, approval_id)
            if row.status != "pending":
                raise Conflict(f"request #{approval_id} was already {row.status} by {row.decided_by}",
                                      reason="already_decided")
            row.status = "approved" if approve else "denied"
            row.decided_by, row.decided_at, row.reason = by, utcnow(), reason.strip() or None
            return Approval.of(row)

    def get(self, approval_id: int | str) -> Approval:
        with self._sessions() as session:
            return Approval.of(_row(session, approval_id))

    def list(self, *, user: str | None = None, status: str | None = None) -> list[Approval]:
        query = select(ApprovalRow).order_by(ApprovalRow.id.desc())
        if user:
            query = query.where(ApprovalRow.user == user)
        if status:
            query = query.where(ApprovalRow.status == status)
        with self._sessions() as session:
            return [Approval.of(row) for row in session.scalars(query)]


def _row(session: Session, approval_id: int | str) -> ApprovalRow:
    """The request numbered ``approval_id`` (an int or its decimal text); UnknownApproval for anything else."""
    text = str(approval_id)
    number = int(text) if text.isascii() and text.isdigit() and len(text) < 19 else None
    row = session.get(ApprovalRow, number) if number else None
    if row is None:
        raise UnknownApproval(f"no approval request #{text[:40]}")
    return row
