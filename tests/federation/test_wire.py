"""The registry's answers as the hub service sends them: a record, a search and a region come back exactly."""

from __future__ import annotations

import numpy as np
import pytest

from jupyter_vlass.exceptions import InvalidRegion
from jupyter_vlass.federation import Region
from jupyter_vlass.federation.wire import (record_from_json, record_to_json, region_from_params, region_params,
                                           report_from_json, result_from_json)


def test_every_sample_record_comes_back_whole(demo_registry):
    records = [r for s in demo_registry.sources() for r in _records(demo_registry, s["name"])]
    assert len(records) >= 8
    for record in records:
        back = record_from_json(record_to_json(record))
        assert back.content_digest() == record.content_digest()  # the MOC's cells included
        assert back.summary() == record.summary() and back.etag == record.etag
        assert np.array_equal(back.footprint.moc.to_depth29_ranges, record.footprint.moc.to_depth29_ranges)


def _records(registry, source):
    hits = registry.search(Region.from_degrees(0, 0, 180), sources=[source]).hits
    return [registry.get(h.dataset_id, h.version) for h in hits]


def test_a_search_comes_back_as_the_same_ranking(demo_registry):
    region = Region.from_degrees(209.25, -18.0, 0.3)
    result = demo_registry.search(region, limit=2)
    back = result_from_json(result.to_json(), region)
    assert back.to_json() == result.to_json() and back.total == result.total > 2 and back.next_cursor
    assert [h.citation for h in back] == [h.citation for h in result]


@pytest.mark.parametrize("region", [
    Region.from_degrees(209.25, -18.0, 0.3),
    Region.parse("333.1,-70.2,0.25", "galactic"),  # converted to ICRS: its full precision must survive
    Region.parse("209.0,-17.9,0.5", "fk4"),
    Region.polygon([(359.5, -1.0), (0.5, -1.0), (0.5, 1.0), (359.5, 1.0)]),
    Region.range(359.0, 1.0, -2.0, float("inf")),
], ids=["icrs", "galactic", "fk4", "polygon-through-ra-0", "range-open-end"])
def test_a_region_comes_back_as_the_same_region(region):
    params = region_params(region)
    back = region_from_params(params.get)
    assert back.as_json() == region.as_json() and type(back) is type(region)
    assert back.moc(10) == region.moc(10)


@pytest.mark.parametrize("params", [{}, {"region": "1,2,3", "polygon": "1,2,3,4,5,6"}, {"polygon": "1,2,3"},
                                    {"range": "1,2,x,4"}, {"region": "1,2"}])
def test_a_bad_region_is_refused_by_name(params):
    with pytest.raises(InvalidRegion):
        region_from_params(params.get)


def test_a_sync_report_comes_back(demo_registry):
    [report] = demo_registry.sync("tacc", force=True)
    assert report_from_json(report.to_json()).to_json() == report.to_json()
