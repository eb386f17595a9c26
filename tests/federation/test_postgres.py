"""The shared-deployment registry on a real PostgreSQL server gives the same answers as SQLite."""

from jupyter_vlass.federation import Registry, Region


def test_postgres_registry_matches_sqlite(postgres_url, demo_registry, sample_data):
    shared = Registry(postgres_url)
    for s in demo_registry.sources():
        shared.add_source(s["name"], s["kind"], s["uri"], options=s["options"])
    assert all(r.status == "ok" for r in shared.sync())
    again = shared.sync()  # idempotent on PostgreSQL too
    assert all(r.added == r.updated == r.withdrawn == 0 for r in again), [r.to_json() for r in again]
    for ra, dec, radius in [(209.25, -18.0, 0.5), (162.53, 30.68, 0.1), (149.25, -7.18, 0.05), (10, 10, 1)]:
        region = Region.from_degrees(ra, dec, radius)
        # same datasets, same coverage; order may differ only through each store's measured source speed
        a = sorted((h.dataset_id, h.version, round(h.coverage, 6)) for h in demo_registry.search(region))
        b = sorted((h.dataset_id, h.version, round(h.coverage, 6)) for h in shared.search(region))
        assert a == b
    doc = shared.describe("curated:racs-1357-18-components")
    assert doc["versions"][0]["derived_from_resolved"][0]["version"] == "v1"
    # a second hub process sees the same registry
    assert {s["name"] for s in Registry(postgres_url).sources()} == {"vlass", "curated", "tacc"}
    for name in ("vlass", "curated", "tacc"):
        shared.remove_source(name)
    assert Registry(postgres_url).sources() == []


def test_postgres_reads_candidates_through_q3c_and_finds_what_sqlite_finds(postgres_url, demo_registry):
    """With q3c (migration 0007) the candidates come from ``q3c_radial_query``; hits and coverage are the
    same as SQLite's HEALPix index gives, for cones, polygons and ranges, in every frame's real images."""
    from sqlalchemy import event

    from tests.services import require

    shared = Registry(postgres_url)
    for s in demo_registry.sources():
        shared.add_source(s["name"], s["kind"], s["uri"], options=s["options"])
    assert all(r.status == "ok" for r in shared.sync())
    statements = []
    event.listen(shared.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    regions = [Region.from_degrees(209.25, -18.0, 0.5), Region.from_degrees(162.53, 30.68, 0.1),
               Region.from_degrees(149.25, -7.18, 0.05), Region.from_degrees(10, 10, 1),
               Region.range(208.5, 210.0, -19.0, -17.0), Region.polygon([(208.8, -18.6), (209.9, -18.5), (209.3, -17.4)])]
    for region in regions:
        a = sorted((h.dataset_id, h.version, round(h.coverage, 6)) for h in demo_registry.search(region))
        b = sorted((h.dataset_id, h.version, round(h.coverage, 6)) for h in shared.search(region))
        assert a == b, region
    require(any("q3c_radial_query" in s for s in statements), "the q3c extension (Debian package postgresql-15-q3c)")
    assert not any("index_cell" in s and "UNION" in s for s in statements)
    for name in ("vlass", "curated", "tacc"):
        shared.remove_source(name)
