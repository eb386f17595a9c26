"""Schema migrations with Alembic, for every table of the project, on SQLite and PostgreSQL.

A new database is created at the newest revision. Release 0.1.0 made its tables without Alembic; such
a database is recognised by its tables and stamped as revision ``0001`` before upgrading. As in
JupyterHub, an SQLite file (one user, a demo) is upgraded when it is opened, after a backup copy; a
shared PostgreSQL database is upgraded only by ``jupyter-vlass db upgrade``, so that no single user's
server changes the schema under a running hub.
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import datetime, timezone

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from ..exceptions import DatabaseOutdated

log = logging.getLogger(__name__)
LEGACY_REVISION = "0001"  # what release 0.1.0's create_all made
LEGACY_TABLES = {"sources", "datasets", "lineage", "allocations", "charges", "approvals"}
_PG_LOCK = 0x766C6173  # "vlas": one migrating process at a time


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", "jupyter_vlass.store:migrations")
    config.attributes["connection"] = connection
    return config


def head() -> str:
    """The newest revision this release knows."""
    return ScriptDirectory.from_config(_config()).get_current_head()


def current(engine: Engine) -> str | None:
    """The database's revision: ``None`` for an empty database, ``0001`` for one made by release 0.1.0."""
    with engine.connect() as connection:
        return _current(connection)


def _current(connection: Connection) -> str | None:
    tables = set(inspect(connection).get_table_names())
    if "alembic_version" in tables:
        return MigrationContext.configure(connection).get_current_revision()
    return LEGACY_REVISION if LEGACY_TABLES & tables else None


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str]:
    """Upgrade to ``revision``; returns (before, after). Safe to run from several processes at once."""
    for attempt in range(2):
        try:
            with engine.begin() as connection:
                if connection.dialect.name == "postgresql":
                    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK})
                before = _current(connection)
                config = _config(connection)
                if before == LEGACY_REVISION and not inspect(connection).has_table("alembic_version"):
                    command.stamp(config, LEGACY_REVISION)
                command.upgrade(config, revision)
                return before, _current(connection)
        except DBAPIError:
            # Two processes creating a new SQLite database at once: the loser finds it made.
            if attempt or current(engine) != head():
                raise
    raise AssertionError("unreachable")


def refuse_outdated(engine: Engine) -> None:
    """Raise :class:`DatabaseOutdated` when a shared (non-SQLite) database is at an older revision than this
    release: what a server checks at its start (one small query), so that it refuses to start rather than
    failing every request. An SQLite file is upgraded when it is opened instead."""
    if engine.dialect.name == "sqlite":
        return
    before, newest = current(engine), head()
    if before is not None and before != newest:
        raise _outdated(engine, before, newest)


def _outdated(engine: Engine, before: str, newest: str) -> DatabaseOutdated:
    return DatabaseOutdated(
        f"the database {engine.url.render_as_string(hide_password=True)} is at schema revision {before}, "
        f"this release needs {newest}: run `jupyter-vlass --db URL db upgrade`")


def ensure_current(engine: Engine) -> None:
    """Bring a new or SQLite database to the newest revision; refuse an outdated shared one."""
    before, newest = current(engine), head()
    if before == newest:
        return
    if before is not None and engine.dialect.name != "sqlite":
        raise _outdated(engine, before, newest)
    if before is not None:
        _backup_sqlite(engine, before)
    upgrade(engine)


def _backup_sqlite(engine: Engine, revision: str) -> None:
    path = engine.url.database
    if not path or path == ":memory:":
        return
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    target = f"{path}.{revision}.{stamp}.bak"
    with sqlite3.connect(path) as source, sqlite3.connect(target) as copy:
        source.backup(copy)
    log.warning("upgrading %s from schema revision %s; a copy is at %s", path, revision, target)
