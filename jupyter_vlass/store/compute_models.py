"""Tables the hub shares: allocations, charges (the ledger) and approvals."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Float, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base


class AllocationRow(Base):
    """Service units granted to a project."""

    __tablename__ = "allocations"

    project: Mapped[str] = mapped_column(String(64), primary_key=True)
    granted_su: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(128))


class ChargeRow(Base):
    """One Slurm job's cost: final when accounting says it ended, provisional while it runs."""

    __tablename__ = "charges"
    __table_args__ = (Index("ix_charge_project", "project"),)

    cluster: Mapped[str] = mapped_column(String(64), primary_key=True)
    job_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user: Mapped[str] = mapped_column(String(64))
    project: Mapped[str] = mapped_column(String(64))
    partition: Mapped[str] = mapped_column(String(64))
    nodes: Mapped[int] = mapped_column(Integer)
    gpus: Mapped[int] = mapped_column(Integer, default=0)
    elapsed_s: Mapped[int] = mapped_column(Integer)
    su: Mapped[float] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(32))
    final: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime]


class ProjectMemberRow(Base):
    """A user charges ``project``: written by the spawner (which decides each user's project) at every start,
    read by the hub service before it charges or authorizes an analysis job."""

    __tablename__ = "project_members"

    user: Mapped[str] = mapped_column(String(128), primary_key=True)
    project: Mapped[str] = mapped_column(String(64), primary_key=True)
    updated_at: Mapped[datetime]


class UserIdentityRow(Base):
    """What the hub's login says of a user beyond their name (their ORCID iD): written by the spawner at every
    start, read by the hub service before it signs a capsule that names an ORCID."""

    __tablename__ = "user_identities"

    user: Mapped[str] = mapped_column(String(128), primary_key=True)
    orcid: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime]


class ApprovalRow(Base):
    """A request above the approval threshold and what an admin decided about it."""

    __tablename__ = "approvals"
    __table_args__ = (Index("ix_approval_digest", "digest"), Index("ix_approval_user", "user"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user: Mapped[str] = mapped_column(String(128))
    project: Mapped[str] = mapped_column(String(64))
    profile: Mapped[str] = mapped_column(String(64))
    request: Mapped[dict] = mapped_column(JSON)
    digest: Mapped[str] = mapped_column(String(64))
    gpu_hours: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16))  # pending, approved, denied
    created_at: Mapped[datetime]
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)
    used_at: Mapped[datetime | None]  # when a start used the approval (or the user was told of the denial)


class JobReportRow(Base):
    """How one analysis job ended, as its user's server reported it to the hub service (for the dashboard)."""

    __tablename__ = "job_reports"

    user: Mapped[str] = mapped_column(String(128), primary_key=True)
    job_id: Mapped[str] = mapped_column(String(32), primary_key=True)  # the job id and its attempt
    project: Mapped[str | None] = mapped_column(String(64))
    site: Mapped[str] = mapped_column(String(32))
    site_kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))  # done failed cancelled
    submitted: Mapped[bool] = mapped_column(Boolean)  # reached the site (False: refused or failed before)
    cached: Mapped[bool] = mapped_column(Boolean)  # answered by the result cache
    queue_wait_s: Mapped[float | None] = mapped_column(Float)
    status_lag_s: Mapped[float | None] = mapped_column(Float)
    su: Mapped[float] = mapped_column(Float, default=0.0)
    ended_at: Mapped[datetime]


class CapsuleSignatureRow(Base):
    """A capsule the hub service signed: for whom, with which key, when (the hub's signing log)."""

    __tablename__ = "capsule_signatures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    capsule_id: Mapped[str] = mapped_column(String(64), index=True)
    user: Mapped[str] = mapped_column(String(128), index=True)
    key_id: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime]


class JobRecordRow(Base):
    """An analysis job as the hub service knows it: what it authorized (inputs, parameters) and, once the job
    ended, the sha256 of each of its outputs (a job answered by the result cache is recorded unauthorized)."""

    __tablename__ = "job_records"
    __table_args__ = (Index("ix_job_record_user_ended", "user", "ended_at"),)

    user: Mapped[str] = mapped_column(String(128), primary_key=True)
    job_id: Mapped[str] = mapped_column(String(32), primary_key=True)  # the job id and its attempt
    project: Mapped[str | None] = mapped_column(String(64))
    site: Mapped[str] = mapped_column(String(32))
    notebook: Mapped[str] = mapped_column(String(512))
    inputs: Mapped[list] = mapped_column(JSON)  # [[dataset id, version], ...]
    parameters: Mapped[dict] = mapped_column(JSON)
    authorized: Mapped[bool] = mapped_column(Boolean)
    authorized_at: Mapped[datetime]
    state: Mapped[str | None] = mapped_column(String(16))  # done failed cancelled; None while it runs
    reason: Mapped[str | None] = mapped_column(Text)
    outputs: Mapped[dict | None] = mapped_column(JSON)  # {name: sha256}
    ended_at: Mapped[datetime | None]
    result_key: Mapped[str | None] = mapped_column(String(64))  # computed by the service (the hub's result cache)


class EvidenceRow(Base):
    """The bytes of a job output the consensus is computed from (a detection table, a class map), by sha256."""

    __tablename__ = "job_evidence"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    content: Mapped[bytes] = mapped_column(LargeBinary)


class SearchQuotaRow(Base):
    """One user's search bucket, shared by every process of the hub service: ``tokens`` left at ``stamp``
    (seconds since the epoch)."""

    __tablename__ = "search_quotas"

    user: Mapped[str] = mapped_column(String(128), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    stamp: Mapped[float] = mapped_column(Float)
