"""Loading a survey's footprint table in bulk: 10^7 rows in minutes, not hours.

A catalogue (an astropy :class:`~astropy.table.Table`: one row per dataset version) is read column by column.
Its footprints are built vectorised (mocpy's ``from_boxes`` / ``from_cones``, one call per MOC depth per batch)
and its rows inserted with SQLAlchemy Core, ``batch`` at a time, all inside the caller's one transaction: a
failure leaves the registry as it was. When the load is larger than the table already is, the footprint and
source indexes are dropped first and built once at the end (in the same transaction, so a failure restores
them too); the unique ``(dataset_id, version)`` index stays, it guards every row.

Columns (``CATALOGUE_COLUMNS``): ``dataset_id`` (put in the source's namespace: ``name:`` where it lacks it), ``uri``, ``ra``, ``dec`` (deg, or angle columns; ICRS unless
``table.meta["frame"]`` names another frame astropy knows, e.g. ``fk5``, ``fk4``, ``galactic`` whose ``l``, ``b``
columns are also read) and a shape, ``radius`` (a cone) or ``box_width`` with optional ``box_height`` and
``box_angle`` (a box, angle east of north); optional ``version`` (default ``"1"``), ``title``, ``sha256``,
``size``, ``access_tier``, ``access_format``, ``dataproduct_type``, ``em_min``/``em_max`` (m), ``release_date``.
An ObsCore table is read too, by its own names (``OBSCORE_NAMES``; ``s_fov`` as a cone's diameter).
"""

from __future__ import annotations

import json
import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext
from multiprocessing import get_context
from dataclasses import dataclass, field

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.table import Table
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.schema import CreateIndex

from ..exceptions import Conflict, CorruptData
from ..patterns import SHA256
from ..store import DatasetRow, footprint_indexes
from ..store.times import utcnow
from .index_query import Q3C_INDEX, has_q3c_index
from .bulk_footprints import footprint_cells
from .records import ACCESS_TIERS, namespaced

DATASETS = DatasetRow.__table__
REQUIRED = ("dataset_id", "uri")
OPTIONAL_TEXT = {"version": "1", "title": None, "access_tier": "public", "access_format": "application/fits",
                 "dataproduct_type": "image", "sha256": None, "release_date": None}
BATCH = 50_000
COLUMNS = ("dataset_id", "version", "source", "uri", "sha256", "title", "s_ra", "s_dec", "radius_deg", "moc_depth",
           "moc", "moc_cells", "index_order", "index_cell", "em_min", "em_max", "access_tier", "size", "dataproduct_type",
           "access_format", "release_date", "ingested_at", "withdrawn_at", "provenance", "derived_from", "extra",
           "etag", "digest")


@dataclass
class LoadReport:
    added: int = 0
    unchanged: int = 0
    withdrawn: int = 0
    restored: int = 0  # withdrawn before, in the table again
    rebuilt_indexes: bool = False
    new_versions: list[dict] = field(default_factory=list)  # added versions of datasets stored before


def _degrees(table: Table, name: str, *, required: bool = True) -> np.ndarray | None:
    if name not in table.colnames:
        if required:
            raise CorruptData(f"catalogue: no column {name!r}")
        return None
    column = table[name]
    try:
        values = (column.quantity.to_value(u.deg) if column.unit is not None else np.asarray(column, float))
    except (u.UnitsError, TypeError, ValueError):
        raise CorruptData(f"catalogue: column {name!r} is not an angle in degrees") from None
    if np.ma.is_masked(column) or not np.all(np.isfinite(values)):
        raise CorruptData(f"catalogue: column {name!r} has empty or non-finite values")
    return np.asarray(values, float)


def _positions(table: Table) -> tuple[np.ndarray, np.ndarray]:
    frame = str(table.meta.get("frame", "icrs")).lower()
    lon, lat = ("l", "b") if frame == "galactic" and "l" in table.colnames else ("ra", "dec")
    try:
        kwargs = {"equinox": table.meta["equinox"]} if "equinox" in table.meta else {}
        sky = SkyCoord(_degrees(table, lon) * u.deg, _degrees(table, lat) * u.deg, frame=frame, **kwargs).icrs
    except (ValueError, TypeError) as exc:  # an unknown frame, a latitude beyond +-90
        raise CorruptData(f"catalogue: positions in frame {frame!r}: {str(exc)[:200]}") from None
    return sky.ra.deg, sky.dec.deg


def _shapes(table: Table) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(a, b, angle, radius)`` in degrees: semi-axes (``b == 0`` for a cone), major axis east of north."""
    n = len(table)
    radius = _degrees(table, "radius", required=False)
    if radius is not None:
        if np.any(radius <= 0) or np.any(radius >= 90):
            raise CorruptData("catalogue: radius must be in (0, 90) degrees")
        return radius, np.zeros(n), np.zeros(n), radius
    width = _degrees(table, "box_width", required=False)
    if width is None:
        raise CorruptData("catalogue: a footprint needs 'radius' (a cone) or 'box_width' (a box)")
    height = _degrees(table, "box_height", required=False)
    height = width if height is None else height
    angle = _degrees(table, "box_angle", required=False)
    angle = np.zeros(n) if angle is None else angle
    if np.any(width <= 0) or np.any(height <= 0) or np.any(np.maximum(width, height) >= 90):
        raise CorruptData("catalogue: box sides must be in (0, 90) degrees")
    tall = height >= width  # mocpy's first axis is the major one
    a, b = np.where(tall, height, width) / 2, np.where(tall, width, height) / 2
    return a, b, np.where(tall, angle, angle + 90.0) % 180.0, np.hypot(a, b)


def _text(table: Table, name: str, default: str | None) -> list:
    """A column as ``str`` values (``default`` for empty or masked ones)."""
    if name not in table.colnames:
        return [default] * len(table)
    values = table[name].tolist()  # a masked value is None
    return [default if v is None or v == "" else v.decode() if isinstance(v, bytes) else str(v) for v in values]


OBSCORE_NAMES = {"dataset_id": "obs_publisher_did", "uri": "access_url", "title": "obs_title", "ra": "s_ra",
                 "dec": "s_dec"}


def _with_obscore_names(table: Table) -> Table:
    """An ObsCore table (a TAP answer, say) read as a catalogue: its ``obs_publisher_did``, ``access_url``,
    ``obs_title``, ``s_ra``, ``s_dec`` and ``s_fov`` (a diameter) where the catalogue's own names are absent."""
    renames = {obscore: own for own, obscore in OBSCORE_NAMES.items()
               if own not in table.colnames and obscore in table.colnames}
    cone = "s_fov" in table.colnames and not {"radius", "box_width"} & set(table.colnames)
    if not renames and not cone:
        return table
    table = Table(table, copy=False)
    for obscore, own in renames.items():
        table.rename_column(obscore, own)
    if cone:
        table["radius"] = table["s_fov"] / 2
    return table


@dataclass
class _Columns:
    """The catalogue's columns, checked, in the store's units (degrees, metres)."""

    text: dict[str, list]
    ra: np.ndarray
    dec: np.ndarray
    a: np.ndarray
    b: np.ndarray
    angle: np.ndarray
    radius: np.ndarray
    size: list
    em: dict[str, list]

    @classmethod
    def of(cls, table: Table, source: str) -> _Columns:
        """The table's columns, its ids in ``source``'s namespace (:func:`.records.namespaced`)."""
        table = _with_obscore_names(table)
        for name in REQUIRED:
            if name not in table.colnames:
                raise CorruptData(f"catalogue: no column {name!r}")
        text_cols = {name: _text(table, name, None) for name in REQUIRED}
        text_cols.update({name: _text(table, name, default) for name, default in OPTIONAL_TEXT.items()})
        if any(v is None for v in text_cols["dataset_id"]) or any(v is None for v in text_cols["uri"]):
            raise CorruptData("catalogue: every row needs a dataset_id and a uri")
        text_cols["title"] = [t or d for t, d in zip(text_cols["title"], text_cols["dataset_id"])]
        text_cols["dataset_id"] = [namespaced(source, i) for i in text_cols["dataset_id"]]
        bad_tier = set(text_cols["access_tier"]) - set(ACCESS_TIERS)
        if bad_tier:
            raise CorruptData(f"catalogue: access_tier {sorted(bad_tier)[0]!r} is not one of {', '.join(ACCESS_TIERS)}")
        if any(s is not None and not SHA256.match(s) for s in text_cols["sha256"]):
            raise CorruptData("catalogue: sha256 must be 64 hex digits")
        keys = list(zip(text_cols["dataset_id"], text_cols["version"]))
        if len(set(keys)) != len(keys):
            raise CorruptData("catalogue: a (dataset_id, version) appears twice")
        ra, dec = _positions(table)
        a, b, angle, radius = _shapes(table)
        size = [None] * len(table) if "size" not in table.colnames else \
            [None if np.ma.is_masked(v) else int(v) for v in table["size"]]
        em = {}
        for name in ("em_min", "em_max"):
            column = table[name] if name in table.colnames else None
            em[name] = [None] * len(table) if column is None else \
                [None if np.ma.is_masked(v) else float(v) for v in (column.quantity.to_value(u.m)
                                                                     if column.unit is not None else column)]
        return cls(text_cols, ra, dec, a, b, angle, radius, size, em)

    def shapes(self, idx: np.ndarray) -> tuple:
        return self.ra[idx], self.dec[idx], self.a[idx], self.b[idx], self.angle[idx], self.radius[idx]

    def rows(self, idx: np.ndarray, footprints: tuple, constants: dict) -> list[tuple]:
        """The rows at table positions ``idx`` as tuples in ``COLUMNS`` order (``constants``: the rest)."""
        orders, cells, depths, blobs, areas = footprints
        t, ra, dec, radius = self.text, self.ra[idx], self.dec[idx], self.radius[idx]
        varying = {"dataset_id": t["dataset_id"], "version": t["version"], "uri": t["uri"], "title": t["title"],
                   "sha256": t["sha256"], "access_tier": t["access_tier"], "access_format": t["access_format"],
                   "dataproduct_type": t["dataproduct_type"], "release_date": t["release_date"], "size": self.size,
                   "em_min": self.em["em_min"], "em_max": self.em["em_max"]}
        per_row = {"s_ra": ra.tolist(), "s_dec": dec.tolist(), "radius_deg": radius.tolist(),
                   "moc_depth": depths.tolist(), "moc": blobs, "moc_cells": areas.tolist(), "index_order": orders.tolist(),
                   "index_cell": cells.tolist()}
        positions = idx.tolist()
        columns = []
        for name in COLUMNS:
            if name in constants:
                columns.append([constants[name]] * len(positions))
            elif name in per_row:
                columns.append(per_row[name])
            else:
                values = varying[name]
                columns.append([values[i] for i in positions])
        return list(zip(*columns))


def _footprint_batches(columns: _Columns, keep: np.ndarray, batch: int, workers: int) -> Iterator[tuple]:
    """``(idx, footprints)`` per batch of ``keep``, in order; with ``workers > 1`` computed in that many
    processes, a few batches ahead of the caller's inserts (mocpy holds the GIL while it builds MOCs, so threads
    would not overlap them with the inserts). A script that loads in bulk needs the usual
    ``if __name__ == "__main__":`` guard of :mod:`multiprocessing`."""
    chunks = [keep[start:start + batch] for start in range(0, len(keep), batch)]
    if workers <= 1 or len(chunks) < 3:
        for idx in chunks:
            yield idx, footprint_cells(*columns.shapes(idx))
        return
    with ProcessPoolExecutor(workers, mp_context=get_context("forkserver")) as pool:
        pending: deque = deque()
        for idx in chunks:
            pending.append((idx, pool.submit(footprint_cells, *columns.shapes(idx), threads=1)))
            if len(pending) > workers:
                done, future = pending.popleft()
                yield done, future.result()
        while pending:
            done, future = pending.popleft()
            yield done, future.result()
    _stop_helpers()


def _stop_helpers() -> None:
    """Stop the forkserver and resource-tracker processes the pool started: multiprocessing keeps them for the
    process's life, and a server that loads a catalogue once should not keep two idle children. Both start
    again on demand."""
    from multiprocessing import forkserver, resource_tracker

    for helper in (getattr(forkserver, "_forkserver", None), getattr(resource_tracker, "_resource_tracker", None)):
        stop = getattr(helper, "_stop", None)
        if stop is not None:
            stop()


def _writer(conn):
    """A function inserting a batch of ``COLUMNS`` tuples: PostgreSQL's COPY, or the driver's executemany of the
    INSERT SQLAlchemy compiles (one statement, no per-row parameter processing)."""
    if conn.dialect.name == "postgresql":
        def copy(rows):
            cursor = conn.connection.dbapi_connection.cursor()
            with cursor.copy(f"COPY datasets ({', '.join(COLUMNS)}) FROM STDIN") as stream:
                for row in rows:
                    stream.write_row(row)
        return copy
    compiled = insert(DATASETS).compile(dialect=conn.dialect, column_keys=list(COLUMNS))
    assert tuple(compiled.positiontup) == COLUMNS, compiled.positiontup
    return lambda rows: conn.exec_driver_sql(str(compiled), rows)


def _constants(conn, source: str, fingerprint: str) -> dict:
    """The columns every row of a load shares, processed once by their SQLAlchemy types for this driver."""
    values = {"source": source, "withdrawn_at": None, "etag": None, "digest": fingerprint[:16],
              "ingested_at": utcnow(), "provenance": {}, "derived_from": [], "extra": {}}
    out = {}
    for name, value in values.items():
        process = DATASETS.c[name].type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
        value = process(value) if process and value is not None else value
        out[name] = json.dumps(value) if isinstance(value, (dict, list)) else value  # psycopg's COPY takes JSON text
    return out


def _secondary_indexes(conn) -> list[str]:
    """``CREATE INDEX`` statements of the footprint table's indexes that a bulk load drops and rebuilds."""
    statements = [str(CreateIndex(index).compile(dialect=conn.dialect)) for index in footprint_indexes(conn.dialect)]
    if has_q3c_index(conn):
        statements.append(f"CREATE INDEX {Q3C_INDEX} ON datasets (q3c_ang2ipix(s_ra, s_dec))")
    return statements


def _held_elsewhere(conn, source: str, rows: list[dict]) -> str | None:
    """The first of ``rows`` whose ``(dataset_id, version)`` another source holds, as ``id@version``."""
    d = DATASETS.c
    for start in range(0, len(rows), 500):
        part = rows[start:start + 500]
        held = {(r.dataset_id, r.version) for r in conn.execute(
            select(d.dataset_id, d.version).where(d.dataset_id.in_([r["dataset_id"] for r in part]), d.source != source))}
        for r in part:
            if (r["dataset_id"], r["version"]) in held:
                return f"{r['dataset_id']}@{r['version']}"
    return None


def _open_transaction(conn) -> None:
    """Make sure the database transaction is open before DDL: Python's sqlite3 opens it at the first INSERT,
    UPDATE or DELETE, and runs a ``DROP INDEX`` before that on its own, committed, so a rollback would not
    bring the index back. A no-op UPDATE opens it."""
    if conn.dialect.name == "sqlite" and not conn.connection.dbapi_connection.in_transaction:
        conn.execute(update(DATASETS).where(DATASETS.c.pk == -1).values(pk=DATASETS.c.pk))


def load(conn, source: str, table: Table, *, fingerprint: str, batch: int = BATCH,
         workers: int | None = None) -> LoadReport:
    """Make ``source``'s rows those of ``table`` inside the caller's transaction: new ``(dataset_id, version)``
    inserted, those already stored kept (restored if they had been withdrawn), stored ones the table no longer
    has withdrawn. ``fingerprint`` (of the table file) is stored as each new row's digest; ``workers``: processes
    building footprints (default: one per core when there are several batches)."""
    workers = (os.cpu_count() or 1) if workers is None else workers
    columns = _Columns.of(table, source)  # every check before anything is written
    report = LoadReport()
    d = DATASETS.c
    stored = {(r.dataset_id, r.version): (r.pk, r.withdrawn_at) for r in
              conn.execute(select(d.pk, d.dataset_id, d.version, d.withdrawn_at).where(d.source == source))}
    keys = list(zip(columns.text["dataset_id"], columns.text["version"]))
    new = np.fromiter((k not in stored for k in keys), bool, len(keys))
    in_table = set(keys)
    now = utcnow()
    gone = [pk for key, (pk, withdrawn) in stored.items() if key not in in_table and withdrawn is None]
    back = [stored[k][0] for k in keys if k in stored and stored[k][1] is not None]
    for pks, value in ((gone, now), (back, None)):
        for start in range(0, len(pks), batch):
            conn.execute(update(DATASETS).where(d.pk.in_(pks[start:start + batch])).values(withdrawn_at=value))
    report.withdrawn, report.restored = len(gone), len(back)
    report.unchanged = len(keys) - int(new.sum())
    keep = np.flatnonzero(new)
    known_ids = {dataset_id for dataset_id, _ in stored}
    report.new_versions = [{"id": keys[i][0], "version": keys[i][1], "sha256": columns.text["sha256"][i]}
                           for i in keep.tolist() if keys[i][0] in known_ids]
    total = conn.execute(select(func.count()).select_from(DATASETS)).scalar_one()
    rebuild = len(keep) > max(total, 10_000)
    if rebuild:  # indexes after the load: dropped here, rebuilt below, all in this transaction
        _open_transaction(conn)
        statements = _secondary_indexes(conn)
        for name in [index.name for index in footprint_indexes(conn.dialect)] + [Q3C_INDEX]:
            conn.execute(text(f"DROP INDEX IF EXISTS {name}"))
    write, constants = _writer(conn), _constants(conn, source, fingerprint)
    for idx, footprints in _footprint_batches(columns, keep, batch, workers):
        rows = columns.rows(idx, footprints, constants)
        try:  # on PostgreSQL in a savepoint, so that the transaction can still say what clashed
            with conn.begin_nested() if conn.dialect.name == "postgresql" else nullcontext():
                write(rows)
        except IntegrityError as error:  # the one check left to the database: an id and version another source holds
            clash = _held_elsewhere(conn, source, [dict(zip(COLUMNS, row)) for row in rows])
            if clash is None:
                raise Conflict(f"catalogue: the database refused a row ({str(error.orig).splitlines()[0][:200]}); "
                               "nothing was loaded", reason="integrity") from None
            raise Conflict(f"catalogue: {clash} is already a dataset of another source; nothing was loaded",
                           reason="dataset_exists") from None
        report.added += len(rows)
    if rebuild:
        for create in statements:
            conn.execute(text(create))
        report.rebuilt_indexes = True
    return report

