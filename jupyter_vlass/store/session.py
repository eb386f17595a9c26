"""Engines and sessions: an SQLite file by default, any SQLAlchemy URL (PostgreSQL) otherwise."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from ..exceptions import InvalidArgument
from .migrate import ensure_current

from .location import default_db_url

T = TypeVar("T")
ATTEMPTS = 12
RACES = ("database is locked", "database is busy", "could not serialize", "deadlock detected")


def _sqlite_pragmas(dbapi_connection, _record):
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def normalised_url(url: str) -> URL:
    """Parse a database URL; plain ``postgresql://`` uses psycopg 3."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise InvalidArgument(f"not a database URL: {url!r}") from None
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str | None = None, *, upgrade: bool = True) -> Engine:
    """An engine on ``url``; with ``upgrade``, one whose schema is current (see :mod:`.migrate`)."""
    parsed = normalised_url(url or default_db_url())
    if parsed.drivername.startswith("sqlite"):
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(parsed, pool_pre_ping=True)
    if upgrade:
        ensure_current(engine)
    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def write(sessions: sessionmaker[Session], work: Callable[[Session], T]) -> T:
    """``work(session)`` in one transaction, run again from a fresh read when a concurrent writer won a race
    (a unique key taken meanwhile, SQLite busy, a PostgreSQL serialization failure or deadlock); ``work``
    must read what it decides on inside the session it is given."""
    for attempt in range(ATTEMPTS):
        try:
            with sessions.begin() as session:
                return work(session)
        except (IntegrityError, OperationalError) as error:
            lost = isinstance(error, IntegrityError) or any(r in str(error.orig).lower() for r in RACES)
            if not lost or attempt == ATTEMPTS - 1:
                raise
            time.sleep(random.uniform(0.001, 0.01 * (attempt + 1)))
    raise AssertionError("unreachable")
