"""The region search takes a footprint wholly inside a cone at its stored area (``moc_cells``) instead of
measuring its MOC: the matches, coverages and footprint fractions are exactly those of measuring every MOC
(the real NVSS extract's cutouts, and a catalogue of boxes of several sizes); rows without a stored area
(written before migration 0009) are measured; polygons and ranges are always measured."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.table import Table, vstack
from sqlalchemy import select, update

from jupyter_vlass.federation import Region, Registry, index_query
from jupyter_vlass.federation.index import CoverageMeter
from jupyter_vlass.federation.index_query import CANDIDATE_COLUMNS, DATASETS, angular_distance_deg
from jupyter_vlass.store import moc_codec
from tests.federation.test_catalogue import _large, _nvss_boxes, real  # noqa: F401  (a fixture)


@pytest.fixture(scope="module")
def registry(real, tmp_path_factory):  # noqa: F811
    folder = tmp_path_factory.mktemp("interior")
    boxes, _ = _large(folder, 4000)
    nvss, _ = _nvss_boxes(real, "fk5")
    path = folder / "mixed.fits"
    vstack([Table({k: boxes[k] for k in ("dataset_id", "uri", "ra", "dec", "box_width", "box_height", "box_angle")}),
            Table({"dataset_id": nvss["dataset_id"], "uri": nvss["uri"], "ra": nvss["ra"].to("deg").value,
                   "dec": nvss["dec"].to("deg").value, "box_width": nvss["box_width"], "box_height": nvss["box_width"],
                   "box_angle": np.zeros(len(nvss))})]).write(path)
    registry = Registry(f"sqlite:///{folder / 'r.sqlite'}")
    registry.add_source("mixed", "catalogue", str(path))
    registry.sync("mixed")
    return registry


def _rows(registry, region: Region) -> list:
    with registry.engine.connect() as conn:
        return conn.execute(select(*[getattr(DATASETS.c, n) for n in CANDIDATE_COLUMNS])).all()


def _measured_every_one(rows: list, region: Region) -> dict:
    """The search's answer as measuring every MOC gives it: ``{(id, version): (coverage, inside)}``."""
    distance = angular_distance_deg(region.ra_deg, region.dec_deg, np.array([r.s_ra for r in rows]),
                                    np.array([r.s_dec for r in rows]))
    near = [r for r, d in zip(rows, distance) if d <= region.radius_deg + r.radius_deg + 1e-9]
    if not near:
        return {}
    meter = CoverageMeter(region)
    coverage, inside = meter.measure_ranges([moc_codec.decode(r.moc, r.moc_depth) for r in near],
                                            max(r.moc_depth for r in near))
    return {(r.dataset_id, r.version): (c, i) for r, c, i in zip(near, coverage, inside) if c > 0}


def _answer(rows: list, region: Region) -> dict:
    found, coverage, inside = index_query.index_matches(rows, region, CoverageMeter(region))
    return {(r.dataset_id, r.version): (c, i) for r, c, i in zip(found, coverage, inside)}


REGIONS = [Region.from_degrees(97.5, -31.5, 0.5), Region.from_degrees(97.5, -31.5, 3.0),
           Region.from_degrees(120.0, 10.0, 1.0), Region.from_degrees(120.0, 10.0, 5.0),
           Region.from_degrees(101.0, -9.5, 2.0), Region.from_degrees(130.0, 25.0, 0.2)]


@pytest.mark.parametrize("region", REGIONS, ids=lambda r: f"{r.ra_deg},{r.dec_deg},{r.radius_deg}")
def test_stored_areas_give_exactly_what_measuring_every_moc_gives(registry, region, monkeypatch):
    rows = _rows(registry, region)
    decoded = []
    original = index_query._stored_ranges
    monkeypatch.setattr(index_query, "_stored_ranges", lambda some: decoded.append(len(some)) or original(some))
    answer, expected = _answer(rows, region), _measured_every_one(rows, region)
    assert answer.keys() == expected.keys() and len(answer) > 0
    for key, (coverage, inside) in expected.items():
        assert answer[key] == pytest.approx((coverage, inside), rel=1e-12, abs=1e-15), key
    if region.radius_deg >= 3.0:  # most footprints are inside: only the edge's MOCs were decoded
        assert sum(decoded) < 0.5 * len(answer), (sum(decoded), len(answer))
    assert len(registry.search(region).hits) == len(answer)


def test_rows_without_a_stored_area_are_measured(registry):
    region = REGIONS[3]
    with registry.engine.begin() as conn:
        conn.execute(update(DATASETS).where(DATASETS.c.pk % 2 == 0).values(moc_cells=None))
    try:
        rows = _rows(registry, region)
        assert any(r.moc_cells is None for r in rows)
        answer, expected = _answer(rows, region), _measured_every_one(rows, region)
        assert answer.keys() == expected.keys()
        for key, value in expected.items():
            assert answer[key] == pytest.approx(value, rel=1e-12, abs=1e-15)
    finally:
        with registry.engine.begin() as conn:
            conn.execute(update(DATASETS).values(moc_cells=None))
        registry.sync("mixed", force=True)


def test_a_polygon_is_always_measured(registry, monkeypatch):
    region = Region.polygon([[118, 8], [124, 8], [124, 13], [118, 13]])
    rows = _rows(registry, region)
    decoded = []
    original = index_query._stored_ranges
    monkeypatch.setattr(index_query, "_stored_ranges", lambda some: decoded.append(len(some)) or original(some))
    answer = _answer(rows, region)
    assert len(answer) > 0 and sum(decoded) >= len(answer)
