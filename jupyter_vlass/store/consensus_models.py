"""Tables the hub shares for explainability: consensus results, expert votes, the audit trail."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base


class ConsensusResultRow(Base):
    """One consensus of detection runs on one dataset version, its detections numbered from 0."""

    __tablename__ = "consensus_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dataset_id: Mapped[str] = mapped_column(String(512), index=True)
    version: Mapped[str] = mapped_column(String(128))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]
    summary: Mapped[dict] = mapped_column(JSON)
    detections: Mapped[list] = mapped_column(JSON)


class VoteRow(Base):
    """An expert's verdict on one detection: one per user, changeable."""

    __tablename__ = "votes"

    result_id: Mapped[int] = mapped_column(ForeignKey("consensus_results.id"), primary_key=True)
    detection: Mapped[int] = mapped_column(Integer, primary_key=True)
    user: Mapped[str] = mapped_column(String(128), primary_key=True)
    verdict: Mapped[str] = mapped_column(String(16))  # confirmed | false_positive | unsure
    comment: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime]


class AuditEntryRow(Base):
    """One entry of the hash-chained audit trail."""

    __tablename__ = "audit_entries"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(512), index=True)
    detail: Mapped[dict] = mapped_column(JSON)
    previous: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
