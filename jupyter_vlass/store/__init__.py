"""Persistence: SQLAlchemy models and engines (SQLite default, PostgreSQL for shared hubs).

Names are imported on first use, so reading :func:`default_db_url` costs no SQLAlchemy import.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "AllocationRow": "compute_models", "ApprovalRow": "compute_models", "ChargeRow": "compute_models",
    "Base": "models", "DatasetRow": "models", "LineageRow": "models", "SourceRow": "models",
    "JobRow": "job_models", "CacheEntryRow": "job_models", "DB_ENV": "location", "default_db_url": "location", "make_engine": "session", "session_factory": "session",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
