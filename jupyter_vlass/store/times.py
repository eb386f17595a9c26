"""The store's clock: naive UTC datetimes, as every table keeps them (SQLite and PostgreSQL alike)."""

from __future__ import annotations

from datetime import datetime, timezone


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)
