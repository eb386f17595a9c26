"""Persistence: SQLAlchemy models and engines (SQLite default, PostgreSQL for shared hubs).

Names are imported on first use, so reading :func:`default_db_url` costs no SQLAlchemy import.
"""

from __future__ import annotations

from ..lazy import lazy_exports

_EXPORTS = {
    "AllocationRow": "compute_models", "ApprovalRow": "compute_models", "ChargeRow": "compute_models",
    "ProjectMemberRow": "compute_models", "UserIdentityRow": "compute_models", "JobReportRow": "compute_models",
    "CapsuleSignatureRow": "compute_models", "JobRecordRow": "compute_models", "EvidenceRow": "compute_models",
    "SearchQuotaRow": "compute_models",
    "ConsensusResultRow": "consensus_models", "VoteRow": "consensus_models",
    "AuditEntryRow": "consensus_models",
    "Base": "models", "DatasetRow": "models", "LineageRow": "models", "SourceRow": "models",
    "footprint_indexes": "models", "ONE_DIALECT": "models",
    "JobRow": "job_models", "CacheEntryRow": "job_models", "DB_ENV": "location", "default_db_url": "location",
    "make_engine": "session", "session_factory": "session", "write": "session", "utcnow": "times",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
