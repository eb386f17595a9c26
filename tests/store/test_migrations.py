"""Schema migrations: a database made by release 0.1.0 (before migrations), with data in every table,
upgrades on SQLite and PostgreSQL with nothing lost; the models and the migrations agree."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, create_engine, inspect, select, text

from jupyter_vlass.compute.ledger import Ledger
from jupyter_vlass.exceptions import DatabaseOutdated
from jupyter_vlass.federation import Registry, Region
from jupyter_vlass.federation.footprints import decode_ranges
from jupyter_vlass.federation.index_query import Q3C_INDEX, has_q3c_index
from jupyter_vlass.store import ONE_DIALECT, Base, make_engine, session_factory
from jupyter_vlass.store import consensus_models  # noqa: F401  (its tables are on Base.metadata)
from jupyter_vlass.store.migrate import current, head, upgrade
from tests.services import require

RELEASE_0_1_0 = Path(__file__).parent / "data" / "release-0.1.0.sql"
TABLES = ("sources", "datasets", "lineage", "allocations", "charges", "approvals")


def _sqlite_from_release(path: Path) -> str:
    with sqlite3.connect(path) as connection:
        connection.executescript(RELEASE_0_1_0.read_text())
    return f"sqlite:///{path}"


def _rows(url: str) -> dict[str, list[dict]]:
    engine = create_engine(url)
    metadata = MetaData()
    metadata.reflect(engine, only=TABLES)
    with engine.connect() as connection:
        found = {name: [dict(r._mapping) for r in connection.execute(select(metadata.tables[name]))]
                 for name in TABLES}
    engine.dispose()
    return found


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "jupyter_vlass.cli", *args], capture_output=True, text=True)


def _cells(row: dict, stored_as: str) -> list:
    """A footprint row's MOC as depth-29 ranges: as release 0.1.0 stored it, or as the head revision does."""
    if stored_as == "release":
        return np.frombuffer(row["moc"], dtype="<u8").reshape(-1, 2).tolist()
    return decode_ranges(row["moc"], row["moc_depth"]).tolist()


def _assert_kept(before: dict, after: dict, *, mocs_after: str = "head") -> None:
    """Every row of every table is still there, with the same value in every column it had (a footprint's
    MOC: the same cells, in the encoding of migration 0008)."""
    for table in TABLES:
        assert len(after[table]) == len(before[table]) > 0, table
        columns = list(before[table][0])

        def values(row, stored_as):
            return repr([_cells(row, stored_as) if c == "moc" else row[c] for c in columns])

        kept = sorted(values(row, mocs_after) for row in after[table])
        assert kept == sorted(values(row, "release") for row in before[table]), table
    moc_bytes = [(len(a["moc"]), len(b["moc"])) for a, b in zip(sorted(after["datasets"], key=lambda r: r["pk"]),
                                                                  sorted(before["datasets"], key=lambda r: r["pk"]))]
    if mocs_after == "head":  # migration 0008: varint differences at the MOC's depth, not depth-29 uint64 pairs
        assert 3 * sum(a for a, _ in moc_bytes) < sum(b for _, b in moc_bytes), moc_bytes
        for row in after["datasets"]:  # migration 0009: each MOC's area in depth-29 cells, filled in
            assert row["moc_cells"] == sum(hi - lo for lo, hi in _cells(row, "head")) > 0, row["dataset_id"]


def test_release_0_1_0_sqlite_upgrades_with_the_cli_and_loses_nothing(tmp_path):
    url = _sqlite_from_release(tmp_path / "hub.sqlite")
    before = _rows(url)
    assert _cli("--db", url, "db", "current").returncode == 1  # an upgrade is due
    done = _cli("--db", url, "db", "upgrade")
    assert done.returncode == 0, done.stderr
    assert f"0001 -> {head()}" in done.stdout
    after = _rows(url)
    _assert_kept(before, after)
    assert all(s["checked_at"] == s["synced_at"] for s in after["sources"])
    assert _cli("--db", url, "db", "current").returncode == 0
    # the data still works: search, lineage and the ledger answer as they did
    registry = Registry(url)
    found = registry.search(Region.from_degrees(210.0, -19.0, 1.0))
    assert {h.source for h in found.hits} >= {"vlass", "curated"}
    doc = registry.describe("curated:racs-1357-18-components")
    assert doc["versions"][0]["derived_from_resolved"][0]["version"] == "v1"
    balance = Ledger(session_factory(make_engine(url)), cluster="vlass-local").balance("astro")
    assert balance.granted == 10 and balance.spent > 0


def test_opening_an_old_sqlite_file_upgrades_it_after_a_backup(tmp_path):
    url = _sqlite_from_release(tmp_path / "registry.sqlite")
    before = _rows(url)
    engine = make_engine(url)
    assert current(engine) == head()
    _assert_kept(before, _rows(url))
    [backup] = tmp_path.glob("registry.sqlite.0001.*.bak")
    _assert_kept(before, _rows(f"sqlite:///{backup}"), mocs_after="release")  # the copy is the database as it was


def test_release_0_1_0_postgresql_waits_for_the_admin_then_upgrades(postgres_url, tmp_path):
    # Lay out release 0.1.0's schema on PostgreSQL exactly as its create_all did (revision 0001, with no
    # version table), then copy the release's data into it.
    engine = make_engine(postgres_url, upgrade=False)
    upgrade(engine, "0001")
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE alembic_version"))
    source = _rows(_sqlite_from_release(tmp_path / "release.sqlite"))
    metadata = MetaData()
    metadata.reflect(engine, only=TABLES)
    with engine.begin() as connection:
        for table in TABLES:
            connection.execute(metadata.tables[table].insert(), source[table])
    before = _rows(postgres_url)
    with pytest.raises(DatabaseOutdated, match="jupyter-vlass --db URL db upgrade"):
        make_engine(postgres_url)  # a user's server never changes a shared schema on its own
    done = _cli("--db", postgres_url, "db", "upgrade")
    assert done.returncode == 0, done.stderr
    _assert_kept(before, _rows(postgres_url))
    assert current(make_engine(postgres_url)) == head()
    engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_migrations_make_exactly_the_models_tables(backend, request, tmp_path):
    """Every table and column of the models comes from a migration (a new table without one fails here)."""
    url = f"sqlite:///{tmp_path / 'new.sqlite'}" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    assert current(engine) == head()
    def not_q3c(obj, name, type_, reflected, compare_to):  # migration 0007's, where PostgreSQL has q3c
        # and the models' indexes for the other database (store.ONE_DIALECT) are not expected here
        return name != Q3C_INDEX and ONE_DIALECT.get(name, engine.dialect.name) == engine.dialect.name

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_object": not_q3c})
        assert compare_metadata(context, Base.metadata) == []
        assert set(inspect(connection).get_table_names()) == set(Base.metadata.tables) | {"alembic_version"}
        if backend == "postgresql":  # Debian's postgresql-15-q3c (make test installs it)
            require(has_q3c_index(connection), "the q3c extension (Debian package postgresql-15-q3c)")
    engine.dispose()


def test_db_commands_refuse_a_bad_url_with_exit_2():
    done = _cli("--db", "not a url", "db", "upgrade")
    assert done.returncode == 2 and "not a database URL" in done.stderr


def test_a_server_refuses_to_start_on_an_outdated_shared_database(postgres_url, tmp_path):
    """A real jupyter_server on a PostgreSQL registry one revision behind exits at once, naming the upgrade
    command, instead of starting and failing every request; after `db upgrade` it starts (the control)."""
    from tests.jupyter_process import jupyter

    engine = make_engine(postgres_url, upgrade=False)
    upgrade(engine, "0010")
    engine.dispose()
    config = tmp_path / "jupyter_config.py"
    config.write_text("c = get_config()\nc.ServerApp.jpserver_extensions = {'jupyter_vlass': True}\n"
                      "c.ServerApp.open_browser = False\nc.ServerApp.allow_root = True\n"
                      f"c.ServerApp.root_dir = {str(tmp_path)!r}\nc.VlassApp.db_url = {postgres_url!r}\n")
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path), "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    done = subprocess.run([sys.executable, "-m", "jupyter_server", f"--config={config}", "--port=0"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0, done.stderr[-2000:]
    assert "jupyter-vlass cannot start" in done.stderr and "db upgrade" in done.stderr, done.stderr[-2000:]
    assert "revision 0010" in done.stderr
    assert _cli("--db", postgres_url, "db", "upgrade").returncode == 0
    (tmp_path / "served").mkdir()
    with jupyter("jupyter_server", tmp_path / "served", root=tmp_path, vlass={"db_url": postgres_url}) as url:
        assert url.startswith("http://127.0.0.1:")
