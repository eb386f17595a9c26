"""What one search sends to the database: a fixed, small number of statements, however it is reached.

The REST handlers search through ``registry.viewer(groups)``, a copy per request; a copy once rescanned the
whole footprint table for its index orders on every request (2.5 s a search at 10^6 footprints).
"""

from __future__ import annotations

from sqlalchemy import event

from jupyter_vlass.federation import Region

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
        assert len(again) == 2, again  # the sources, and one statement over the index
    demo_registry.viewer([]).sync()  # a sync through any copy may bring footprints of new sizes: read again
    after = _statements(demo_registry, lambda: demo_registry.viewer([]).search(region))
    assert any(ORDERS in s for s in after)
