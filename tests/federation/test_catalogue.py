"""Catalogue sources, synced in bulk (federation/bulk.py): a real ObsCore table and the real NVSS extract in
FK5, Galactic and FK4; the vectorised footprints equal the per-record ones; re-syncs withdraw, restore and
add versions; a bad table or a clash writes nothing; a large load rebuilds its indexes, on SQLite and
PostgreSQL (with Q3C), and answers as a brute force does."""

from __future__ import annotations

import shutil

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import FK4, FK5, Galactic, SkyCoord
from astropy.table import Table
from astropy.time import Time
from sqlalchemy import inspect, select

from jupyter_vlass.federation import Region, Registry
from jupyter_vlass.federation.bulk import COLUMNS, DATASETS, load
from jupyter_vlass.federation.bulk_footprints import index_orders_for, moc_depths_for
from jupyter_vlass.federation.footprints import Footprint, decode_ranges, index_order_for, moc_depth_for
from jupyter_vlass.federation.index import index_cell
from jupyter_vlass.federation.index_query import has_q3c_index
from jupyter_vlass.sample_data import fetch_real_files
from jupyter_vlass.store import DatasetRow
from tests.services import SAMPLE_CACHE, require


@pytest.fixture(scope="module")
def real():
    return fetch_real_files(SAMPLE_CACHE)


def _sync(registry: Registry, name: str) -> dict:
    [report] = registry.sync(name)
    return report.to_json()


def _nvss_boxes(real, frame: str) -> tuple[Table, SkyCoord]:
    """A 0.2 deg cutout at each real NVSS source (VizieR's FK5 J2000 positions), its centre given in ``frame``;
    and the centres in ICRS as astropy transforms them."""
    nvss = Table.read(real["nvss"])
    fk5 = SkyCoord(nvss["_RAJ2000"], nvss["_DEJ2000"], frame=FK5(equinox="J2000"))
    table = Table({"dataset_id": [f"nvss:{n}" for n in nvss["NVSS"]], "uri": [f"cutouts/{n}.fits" for n in nvss["NVSS"]],
                   "box_width": np.full(len(nvss), 0.2) * u.deg})
    if frame == "fk5":
        table["ra"], table["dec"] = fk5.ra, fk5.dec
        table.meta.update(frame="fk5", equinox="J2000")
    elif frame == "fk4":
        b1950 = fk5.transform_to(FK4(equinox="B1950"))
        table["ra"], table["dec"] = b1950.ra, b1950.dec
        table.meta.update(frame="fk4", equinox="B1950")
    else:
        galactic = fk5.transform_to(Galactic())
        table["l"], table["b"] = galactic.l, galactic.b
        table.meta["frame"] = "galactic"
    return table, fk5.icrs


def test_a_real_obscore_table_is_a_catalogue_searched_like_any_source(registry, real, tmp_path):
    path = tmp_path / "obscore-image.xml"
    shutil.copy(real["obscore_votable"], path)
    registry.add_source("gavo", "catalogue", str(path))
    report = _sync(registry, "gavo")
    obscore = Table.read(path)
    assert report["status"] == "ok" and report["added"] == len(obscore) == 10
    first = obscore[0]
    region = Region.from_degrees(float(first["s_ra"]), float(first["s_dec"]), 0.5)
    found = {h.dataset_id for h in registry.search(region).hits}
    centres = SkyCoord(obscore["s_ra"], obscore["s_dec"])
    near = centres.separation(region.center).deg < 0.5 + obscore["s_fov"].quantity.to_value(u.deg) / 2
    assert f"gavo:{first['obs_publisher_did']}" in found  # in the source's namespace
    assert found <= {f"gavo:{d}" for d in obscore["obs_publisher_did"][near]}
    record = registry.get(f"gavo:{first['obs_publisher_did']}")
    assert record.uri == str(first["access_url"]) and record.title == str(first["obs_title"])
    assert _sync(registry, "gavo")["status"] == "unchanged"


@pytest.mark.parametrize("frame", ["fk5", "galactic", "fk4"])
def test_positions_in_fk5_galactic_and_fk4_are_stored_in_icrs(registry, real, tmp_path, frame):
    table, icrs = _nvss_boxes(real, frame)
    table.write(tmp_path / "nvss.ecsv")
    registry.add_source("nvss", "catalogue", str(tmp_path / "nvss.ecsv"))
    assert _sync(registry, "nvss")["added"] == len(table) == 639
    with registry.Session() as session:
        rows = {r.dataset_id: (r.s_ra, r.s_dec) for r in session.query(DatasetRow)}
    stored = SkyCoord([rows[d][0] for d in table["dataset_id"]], [rows[d][1] for d in table["dataset_id"]], unit="deg")
    assert stored.separation(icrs).arcsec.max() < 1e-3
    hits = registry.search(Region.from_degrees(icrs[0].ra.deg, icrs[0].dec.deg, 0.05)).hits
    assert hits[0].dataset_id == table["dataset_id"][0] and hits[0].coverage > 0.99  # the cone lies in the box


def test_vectorised_footprints_are_the_per_record_ones(registry, tmp_path):
    rng = np.random.default_rng(3)
    n = 300
    ra, dec, radius = rng.uniform(0, 360, n), rng.uniform(-80, 85, n), 10 ** rng.uniform(-2.5, 0.8, n)
    radii = np.concatenate([radius, [1e-6, 0.003, 45.0, 89.0]])
    assert index_orders_for(radii).tolist() == [index_order_for(r) for r in radii]
    assert moc_depths_for(2 * radii).tolist() == [moc_depth_for(2 * r) for r in radii]
    Table({"dataset_id": [f"c:{i}" for i in range(n)], "uri": [f"/c/{i}" for i in range(n)], "ra": ra, "dec": dec,
           "radius": radius}).write(tmp_path / "cones.fits")
    registry.add_source("c", "catalogue", str(tmp_path / "cones.fits"))
    assert _sync(registry, "c")["added"] == n
    with registry.Session() as session:
        rows = {r.dataset_id: r for r in session.query(DatasetRow)}
        for i in range(n):
            row = rows[f"c:{i}"]
            footprint = Footprint.cone(SkyCoord(ra[i] * u.deg, dec[i] * u.deg), radius[i] * u.deg)
            assert row.moc_depth == footprint.depth
            assert np.array_equal(decode_ranges(row.moc, row.moc_depth), footprint.moc.to_depth29_ranges)
            assert (row.index_order, row.index_cell) == index_cell(footprint)


def test_resync_withdraws_restores_and_adds_versions(registry, tmp_path):
    rows = Table({"dataset_id": ["s:a", "s:b", "s:c"], "version": ["1", "1", "1"], "uri": ["/a", "/b", "/c"],
                  "ra": [10.0, 11.0, 12.0], "dec": [5.0, 5.0, 5.0], "radius": [0.3, 0.3, 0.3]})
    path = tmp_path / "tiles.ecsv"
    rows.write(path)
    registry.add_source("s", "catalogue", str(path))
    assert _sync(registry, "s")["added"] == 3
    changed = rows[[0, 1]]
    changed.add_row({"dataset_id": "s:a", "version": "2", "uri": "/a2", "ra": 10.0, "dec": 5.0, "radius": 0.3})
    changed.write(path, overwrite=True)
    report = _sync(registry, "s")
    assert (report["added"], report["unchanged"], report["withdrawn"]) == (1, 2, 1)
    assert report["versions"] == [{"id": "s:a", "version": "2", "sha256": None}]
    assert {h.version for h in registry.search(Region.from_degrees(10.0, 5.0, 0.1)).hits} == {"1", "2"}
    assert not registry.search(Region.from_degrees(12.0, 5.0, 0.1)).hits  # s:c withdrawn
    rows.write(path, overwrite=True)
    report = _sync(registry, "s")
    assert (report["added"], report["updated"], report["withdrawn"]) == (0, 1, 1)  # s:c back, s:a v2 gone
    assert [h.dataset_id for h in registry.search(Region.from_degrees(12.0, 5.0, 0.1)).hits] == ["s:c"]


@pytest.mark.parametrize("change, message", [
    (lambda t: t.remove_column("uri"), "no column 'uri'"),
    (lambda t: t.__setitem__("access_tier", ["public", "secret"]), "access_tier 'secret'"),
    (lambda t: t.__setitem__("dataset_id", ["x:1", "x:1"]), "appears twice"),
    (lambda t: t.__setitem__("dec", [5.0, 95.0]), "positions"),
    (lambda t: t.__setitem__("radius", [0.3, -1.0]), "radius must be"),
    (lambda t: t.remove_column("radius"), "needs 'radius'"),
])
def test_a_bad_catalogue_is_refused_whole_and_keeps_what_was_synced(registry, tmp_path, change, message):
    good = Table({"dataset_id": ["x:1", "x:2"], "uri": ["/1", "/2"], "ra": [20.0, 21.0], "dec": [5.0, 5.0],
                  "radius": [0.3, 0.3]})
    path = tmp_path / "x.ecsv"
    good.write(path)
    registry.add_source("x", "catalogue", str(path))
    assert _sync(registry, "x")["added"] == 2
    bad = good.copy()
    change(bad)
    bad.write(path, overwrite=True)
    report = _sync(registry, "x")
    assert report["status"] == "error" and message in report["message"], report
    assert sorted(h.dataset_id for h in registry.search(Region.from_degrees(20.5, 5.0, 1.0)).hits) == ["x:1", "x:2"]


def _large(tmp_path, n: int, *, prefix: str = "big") -> tuple[Table, str]:
    rng = np.random.default_rng(11)
    table = Table({"dataset_id": [f"{prefix}:{i}" for i in range(n)], "uri": [f"/{prefix}/{i}.fits" for i in range(n)],
                   "ra": rng.uniform(100, 140, n), "dec": rng.uniform(-10, 30, n),
                   "box_width": rng.uniform(0.3, 0.6, n) * u.deg, "box_height": rng.uniform(0.3, 0.6, n) * u.deg,
                   "box_angle": rng.uniform(0, 180, n) * u.deg})
    path = tmp_path / f"{prefix}.fits"
    table.write(path)
    return table, str(path)


def _brute(table: Table, region: Region) -> set[str]:
    radius = np.hypot(table["box_width"].quantity.to_value(u.deg), table["box_height"].quantity.to_value(u.deg)) / 2
    near = SkyCoord(table["ra"], table["dec"], unit="deg").separation(region.center).deg <= region.radius_deg + radius
    return {str(d) for d in table["dataset_id"][near]}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_large_load_rebuilds_its_indexes_and_answers_as_a_brute_force(backend, request, tmp_path):
    url = f"sqlite:///{tmp_path / 'r.sqlite'}" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    registry = Registry(url)
    table, path = _large(tmp_path, 30_000)
    registry.add_source("big", "catalogue", path)
    report = _sync(registry, "big")
    assert report["status"] == "ok" and report["added"] == 30_000
    record = registry.get("big:7")  # read back as any harvested record is
    assert (record.provenance, record.extra, record.derived_from, record.uri) == ({}, {}, (), "/big/7.fits")
    assert abs((Time.now() - record.ingested_at).to_value(u.s)) < 600
    with registry.engine.connect() as conn:
        names = {i["name"] for i in inspect(conn).get_indexes("datasets")}
        assert {"ix_footprint_cover" if backend == "sqlite" else "ix_footprint_cell", "ix_dataset_source"} <= names
        if backend == "postgresql":
            require(has_q3c_index(conn), "the q3c extension (Debian package postgresql-15-q3c)")
    rng = np.random.default_rng(5)
    for ra, dec in zip(rng.uniform(102, 138, 15), rng.uniform(-8, 28, 15)):
        region = Region.from_degrees(ra, dec, 1.0)
        found = {h.dataset_id for h in registry.search(region).hits}
        inside = {str(d) for d in table["dataset_id"][SkyCoord(table["ra"], table["dec"], unit="deg")
                                                      .separation(region.center).deg <= 1.0]}
        assert inside <= found <= _brute(table, region)


def test_a_clash_with_another_source_mid_load_writes_nothing(registry, tmp_path):
    _, first = _large(tmp_path, 12_000, prefix="one")
    registry.add_source("one", "catalogue", first)
    assert _sync(registry, "one")["added"] == 12_000
    with registry.engine.begin() as conn:  # a row stored before ids were namespaced by source: "one" holds a
        # "two:" id, which the next catalogue's row 20 000 names: found at insert time
        conn.execute(DATASETS.update().where(DATASETS.c.dataset_id == "one:5").values(dataset_id="two:5"))
    table, _ = _large(tmp_path, 25_000, prefix="two")
    table["dataset_id"][20_000] = "two:5"
    table["dataset_id"][5] = "two:moved-5"
    table.write(tmp_path / "two.fits", overwrite=True)
    registry.add_source("two", "catalogue", str(tmp_path / "two.fits"))
    report = _sync(registry, "two")
    assert report["status"] == "error" and "two:5" in report["message"], report
    with registry.engine.connect() as conn:
        assert {"ix_footprint_cover", "ix_dataset_source"} <= {i["name"] for i in inspect(conn).get_indexes("datasets")}
    with registry.Session() as session:
        assert session.query(DatasetRow).filter(DatasetRow.source == "two").count() == 0
        assert session.query(DatasetRow).count() == 12_000


def test_footprints_built_in_worker_processes_are_those_built_inline(tmp_path):
    table, _ = _large(tmp_path, 9_000)
    stored = []
    for workers in (1, 2):
        registry = Registry(f"sqlite:///{tmp_path / f'w{workers}.sqlite'}")
        registry.add_source("big", "catalogue", _)
        with registry.engine.begin() as conn:
            report = load(conn, "big", table, fingerprint="f" * 64, batch=1_000, workers=workers)
        assert report.added == 9_000 and not report.rebuilt_indexes  # 9,000 rows: under the rebuild threshold
        with registry.engine.connect() as conn:
            stored.append(conn.execute(select(*[DATASETS.c[c] for c in COLUMNS if c != "ingested_at"])
                                       .order_by(DATASETS.c.dataset_id)).all())
    assert stored[0] == stored[1] and len(stored[0]) == 9_000


def test_a_source_cannot_shadow_another_sources_datasets(demo_registry, tmp_path):
    """A catalogue naming a ``vlass:`` id at a newer version does not become that image's newest version: its
    ids are put in its own namespace. Positive control: ids already in its namespace stay as they are."""
    field = Region.from_degrees(209.25, -18.0, 0.5)
    vlass_id = next(h.dataset_id for h in demo_registry.search(field) if h.dataset_id.startswith("vlass:VLASS2.2"))
    newest = demo_registry.get(vlass_id)
    assert newest.source == "vlass"
    path = tmp_path / "evil.ecsv"
    Table({"dataset_id": [vlass_id, "evil:own"], "version": ["v99", "1"], "uri": ["/evil/x.fits", "/evil/y.fits"],
           "ra": [209.25, 209.3], "dec": [-18.0, -18.0], "radius": [0.1, 0.1]}).write(path)
    demo_registry.add_source("evil", "catalogue", str(path))
    [report] = demo_registry.sync("evil")
    assert report.status == "ok" and report.added == 2, report.to_json()
    still = demo_registry.get(vlass_id)
    assert (still.source, still.version, still.uri) == ("vlass", newest.version, newest.uri)
    assert demo_registry.get(f"evil:{vlass_id}").version == "v99"
    assert demo_registry.get("evil:own").source == "evil"
    found = {(h.dataset_id, h.source) for h in demo_registry.search(field)}
    assert {(vlass_id, "vlass"), (f"evil:{vlass_id}", "evil"), ("evil:own", "evil")} <= found
    assert not any(i == vlass_id and s == "evil" for i, s in found)
