"""Persistence: SQLAlchemy models and engines (SQLite default, PostgreSQL for shared hubs)."""

from .compute_models import AllocationRow, ApprovalRow, ChargeRow
from .models import Base, DatasetRow, LineageRow, SourceRow
from .session import DB_ENV, default_db_url, make_engine, session_factory

__all__ = ["AllocationRow", "ApprovalRow", "ChargeRow", "Base", "DatasetRow", "LineageRow", "SourceRow", "DB_ENV", "default_db_url", "make_engine", "session_factory"]
