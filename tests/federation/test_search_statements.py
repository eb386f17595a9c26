"""What one search sends to the database: a fixed, small number of statements, however it is reached.

The REST handlers search through ``registry.viewer(groups)``, a copy per request; a copy once rescanned the
whole footprint table for its index orders on every request (2.5 s a search at 10^6 footprints).
"""

from __future__ import annotations

import gc

from sqlalchemy import delete, event

from jupyter_vlass.federation import Region, index_query
from jupyter_vlass.federation.index_query import DATASETS

ORDERS = "max(datasets.radius_deg)"  # the statement that reads the index orders


def _statements(registry, action) -> list[str]:
    seen: list[str] = []

    def note(_conn, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(registry.engine, "before_cursor_execute", note)
    try:
        action()
    finally:
        event.remove(registry.engine, "before_cursor_execute", note)
    return seen


def test_a_search_through_a_viewer_does_not_rescan_the_index(demo_registry):
    region = Region.from_degrees(209.25, -18.0, 0.5)
    first = _statements(demo_registry, lambda: demo_registry.viewer(["a"]).search(region))
    assert any(ORDERS in s for s in first)  # the orders, read once
    for groups in (["a"], ["b"], []):
        again = _statements(demo_registry, lambda: demo_registry.viewer(groups).search(region))
        assert not any(ORDERS in s for s in again), again
        # the sources, one statement over the index (not the page's text columns), the page's rows
        assert len(again) == 3, again
        assert "FROM sources" in again[0] and "datasets.uri" not in again[1] and "datasets.title" not in again[1]
        assert "datasets.uri" in again[2] and "datasets.pk IN" in again[2]
    demo_registry.viewer([]).sync()  # a sync through any copy may bring footprints of new sizes: read again
    after = _statements(demo_registry, lambda: demo_registry.viewer([]).search(region))
    assert any(ORDERS in s for s in after)


def test_on_sqlite_the_candidates_come_from_the_covering_index_alone(demo_registry):
    region = Region.from_degrees(209.25, -18.0, 2.0)
    plans = []

    def plan(_conn, cursor, statement, parameters, *_args):
        if "index_cell BETWEEN" in statement:
            plans.append(cursor.connection.execute("EXPLAIN QUERY PLAN " + statement, parameters).fetchall())

    event.listen(demo_registry.engine, "before_cursor_execute", plan)
    try:
        assert len(demo_registry.search(region).hits) > 0
    finally:
        event.remove(demo_registry.engine, "before_cursor_execute", plan)
    steps = [row[-1] for row in plans[0] if "datasets" in row[-1]]
    assert steps and all("USING COVERING INDEX ix_footprint_cover" in s for s in steps), steps


def test_a_page_row_deleted_mid_search_is_read_again(demo_registry, monkeypatch):
    """A sync may delete rows between the candidate read and the page's: the search reads again, so the page
    is the ranking of what is there (never a hit without its row)."""
    region = Region.from_degrees(209.25, -18.0, 2.0)
    before = demo_registry.search(region, limit=3)
    gone = before.hits[0]
    original, calls = index_query.page_rows, []

    def delete_first(conn, pks):
        if not calls:
            with demo_registry.engine.begin() as writer:
                writer.execute(delete(DATASETS).where(DATASETS.c.dataset_id == gone.dataset_id,
                                                      DATASETS.c.version == gone.version))
        calls.append(pks)
        return original(conn, pks)

    monkeypatch.setattr(index_query, "page_rows", delete_first)
    after = demo_registry.search(region, limit=3)
    assert len(calls) == 2 and after.total == before.total - 1
    assert (gone.dataset_id, gone.version) not in {(h.dataset_id, h.version) for h in after.hits}
    monkeypatch.setattr(index_query, "page_rows", original)
    assert [h.dataset_id for h in after.hits] == [h.dataset_id for h in demo_registry.search(region, limit=3).hits]


def test_the_collector_is_paused_for_a_search_and_left_as_it_was(demo_registry, monkeypatch):
    region = Region.from_degrees(209.25, -18.0, 1.0)
    during = []
    original = index_query.index_matches
    monkeypatch.setattr(index_query, "index_matches", lambda *a: during.append(gc.isenabled()) or original(*a))
    demo_registry.search(region)
    assert during == [False] and gc.isenabled()
    gc.disable()
    try:
        demo_registry.search(region)
        assert not gc.isenabled()  # a caller that turned it off keeps it off
    finally:
        gc.enable()
