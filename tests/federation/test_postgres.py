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
