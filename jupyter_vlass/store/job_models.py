"""Analysis jobs and the result cache (which sites hold a copy of which result)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base


class JobRow(Base):
    """One analysis job of one user: its manifest, where it runs, its state and its result."""

    __tablename__ = "jobs"
    __table_args__ = (UniqueConstraint("owner", "digest", name="uq_job_owner_digest"),
                      Index("ix_job_owner_created", "owner", "created_at"), Index("ix_job_state", "state"))

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    owner: Mapped[str] = mapped_column(String(128))
    digest: Mapped[str] = mapped_column(String(64))  # of the canonical manifest: one job per manifest
    result_key: Mapped[str] = mapped_column(String(64))  # of what determines the result: the cache key
    manifest: Mapped[dict] = mapped_column(JSON)
    site: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))  # queued staging running retrieving done failed cancelled
    reason: Mapped[str | None] = mapped_column(Text)
    site_job_id: Mapped[str | None] = mapped_column(String(32))  # Slurm job id or local process id
    workdir: Mapped[str | None] = mapped_column(Text)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    cached_from: Mapped[str | None] = mapped_column(String(32))  # the site whose copy answered, if any
    result: Mapped[dict | None] = mapped_column(JSON)  # {"files": [{name, sha256, size}], "location": ...}
    su: Mapped[float] = mapped_column(Float, default=0.0)
    progress: Mapped[dict | None] = mapped_column(JSON)  # {"step", "done", "total"} while staging
    project: Mapped[str | None] = mapped_column(String(64))  # the allocation charged
    charged: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    status_lag_s: Mapped[float | None] = mapped_column(Float)  # scheduler's start -> first seen running here
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]


class CacheEntryRow(Base):
    """A copy of one result at one site, with the digests its bytes must still match."""

    __tablename__ = "cache_entries"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    site: Mapped[str] = mapped_column(String(32), primary_key=True)
    location: Mapped[str] = mapped_column(Text)
    files: Mapped[list] = mapped_column(JSON)
    inputs: Mapped[list] = mapped_column(JSON)  # [[dataset id, version]]: a hit needs read access to each
    job_id: Mapped[str] = mapped_column(String(24))
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    hits: Mapped[int] = mapped_column(Integer, default=0)
