"""Paged search is exact: the pages, followed by their cursors, are the full ranking cut into pieces (same
versions, same order, same scores, ties included) and the total is the number of overlapping versions. Bad
limits and foreign cursors are refused.

The footprints here are synthetic boxes in one patch of sky (sizes 0.2-1.5 deg, one to three versions each,
two sources of different speed): geometry, not astronomy data."""

from __future__ import annotations

import astropy.units as u
import cdshealpix
import numpy as np
import pytest
from astropy.coordinates import Latitude, Longitude
from mocpy import MOC
from sqlalchemy import insert

from jupyter_vlass.exceptions import InvalidArgument
from jupyter_vlass.federation import Region, Registry
from jupyter_vlass.federation.footprints import encode_ranges, index_order_for
from jupyter_vlass.store import DatasetRow, SourceRow
from jupyter_vlass.store.times import utcnow


@pytest.fixture(scope="module")
def patch_registry(tmp_path_factory):
    registry = Registry(f"sqlite:///{tmp_path_factory.mktemp('paging') / 'registry.sqlite'}")
    rng = np.random.default_rng(11)
    now = utcnow()
    with registry.Session.begin() as s:
        for name, latency in (("fast", 0.02), ("slow", 1.5)):
            s.add(SourceRow(name=name, kind="posix", uri=f"/{name}/manifest.json", options={}, enabled=True,
                            created_at=now, latency_samples=1, latency_s=latency))
    rows = []
    for k in range(1200):
        source = "fast" if k % 3 else "slow"
        ra, dec = rng.uniform(200, 220), rng.uniform(-25, -5)
        side = rng.uniform(0.2, 1.5)
        for v in range(1, int(rng.integers(1, 4)) + 1):
            ra_v, dec_v = ra + rng.normal(0, 0.05), dec + rng.normal(0, 0.05)
            moc = MOC.from_boxes(Longitude(ra_v * u.deg), Latitude(dec_v * u.deg), a=side / 2 * u.deg,
                                 b=side / 2 * u.deg, angle=rng.uniform(0, 90) * u.deg, max_depth=9)[0]
            radius = side / np.sqrt(2)
            order = index_order_for(radius)
            cell = int(np.asarray(cdshealpix.lonlat_to_healpix(Longitude(ra_v * u.deg), Latitude(dec_v * u.deg), order)).ravel()[0])
            rows.append({"dataset_id": f"{source}:box-{k}", "version": f"v{v}", "source": source,
                         "uri": f"/{source}/box-{k}-v{v}.fits", "sha256": None, "title": f"box {k} v{v}",
                         "s_ra": ra_v, "s_dec": dec_v, "radius_deg": radius, "moc_depth": 9,
                         "moc": encode_ranges(moc.to_depth29_ranges, 9), "index_order": order,
                         "index_cell": cell, "access_tier": "public", "dataproduct_type": "image",
                         "access_format": "application/fits", "ingested_at": now, "provenance": {},
                         "derived_from": [], "extra": {}, "digest": "-"})
    with registry.engine.begin() as conn:
        conn.execute(insert(DatasetRow.__table__), rows)
    yield registry
    registry.close()


def _key(hit):
    return hit.dataset_id, hit.version, round(hit.score, 12)


@pytest.mark.parametrize("radius", [0.3, 2.0, 5.0])
@pytest.mark.parametrize("limit", [1, 7, 50])
def test_pages_are_the_full_ranking_cut_into_pieces(patch_registry, radius, limit):
    region = Region.from_degrees(210.0, -15.0, radius)
    full = patch_registry.search(region)
    pages, cursor = [], None
    while True:
        page = patch_registry.search(region, limit=limit, cursor=cursor)
        assert page.total == len(full.hits) and len(page.hits) <= limit
        pages.extend(page.hits)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert [_key(h) for h in pages] == [_key(h) for h in full.hits]
    assert {s.name: s.count for s in page.sources} == {n: sum(h.source == n for h in full.hits) for n in ("fast", "slow")}


def test_bad_limits_and_foreign_cursors_are_refused(patch_registry):
    region = Region.from_degrees(210.0, -15.0, 2.0)
    cursor = patch_registry.search(region, limit=5).next_cursor
    for bad in (-1, 1001, 2.5, True):
        with pytest.raises(InvalidArgument):
            patch_registry.search(region, limit=bad)
    with pytest.raises(InvalidArgument, match="another search"):
        patch_registry.search(Region.from_degrees(211.0, -15.0, 2.0), limit=5, cursor=cursor)
    with pytest.raises(InvalidArgument):
        patch_registry.search(region, limit=5, cursor="not-a-cursor")
    assert patch_registry.search(region, limit=0).hits == [] and patch_registry.search(region, limit=0).total > 0


def test_the_cli_pages_with_the_same_ranking(patch_registry):
    import json
    import subprocess
    import sys

    db = patch_registry.engine.url.render_as_string(hide_password=False)

    def page(number):
        done = subprocess.run([sys.executable, "-m", "jupyter_vlass.cli", "--db", db, "datasets", "search", "--region",
                               "210,-15,2", "--limit", "20", "--page", str(number), "--json"],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    full = patch_registry.search(Region.from_degrees(210.0, -15.0, 2.0))
    first, second = page(1), page(2)
    assert first["total"] == second["total"] == len(full.hits) and second["offset"] == 20
    assert [d["id"] for d in first["datasets"] + second["datasets"]] == [h.dataset_id for h in full.hits[:40]]
    bad = subprocess.run([sys.executable, "-m", "jupyter_vlass.cli", "--db", db, "datasets", "search", "--region",
                          "210,-15,2", "--limit", "5000"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "limit" in bad.stderr


@pytest.mark.parametrize("radius", [0.3, 5.0])
def test_the_vectorised_ranking_is_a_plain_sort_of_the_documented_score(patch_registry, radius):
    """Scores recomputed here, one hit at a time, from the formula (coverage measured, the source's speed from
    its latency, 0.5 per newer version among the hits) and sorted by (-score, id, version): the same list."""
    from jupyter_vlass.federation.ranking import Weights, speed_score, version_key

    hits = patch_registry.search(Region.from_degrees(210.0, -15.0, radius)).hits
    latency = {"fast": 0.02, "slow": 1.5}  # as the fixture stored them
    weights, expected = Weights(), []
    versions = {}
    for h in hits:
        versions.setdefault(h.dataset_id, set()).add(h.version)
    for h in hits:
        newer = sorted(versions[h.dataset_id], key=version_key, reverse=True).index(h.version)
        speed = speed_score(latency[h.source])
        score = weights.coverage * h.coverage + weights.speed * speed + weights.recency * 0.5 ** newer
        assert h.parts["recency"] == 0.5 ** newer and h.score == score
        expected.append((-score, h.dataset_id, h.version))
    assert [(-h.score, h.dataset_id, h.version) for h in hits] == sorted(expected)
    assert len({h.dataset_id for h in hits}) < len(hits)  # several versions of a dataset among the hits
    assert len({h.parts["speed"] for h in hits}) == 2  # two sources of different speed
