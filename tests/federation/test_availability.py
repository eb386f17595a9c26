"""A harvested source that stops answering is still searched from its synced metadata, marked stale."""

from __future__ import annotations

from pathlib import Path

from jupyter_vlass.federation import Registry, Region
from tests.services import HttpServer

RACS_FIELD = Region.from_degrees(209.25, -18.0, 0.5)


def test_unreachable_source_is_found_from_synced_metadata_and_marked_stale(tmp_path, sample_data):
    vlass = Path(sample_data["vlass"])
    registry = Registry(f"sqlite:///{tmp_path / 'registry.sqlite'}")
    server = HttpServer(vlass.parent).__enter__()
    try:
        registry.add_source("nrao", "vlass", f"{server.url}/{vlass.name}")
        [first] = registry.sync()
        assert first.status == "ok" and first.added > 0
        fresh = registry.search(RACS_FIELD)
        assert fresh.hits and not fresh.status_of("nrao").stale
    finally:
        server.__exit__(None, None, None)  # the archive goes away

    [failed] = registry.sync(force=True)
    assert failed.status == "error" and "cannot reach" in failed.message
    result = registry.search(RACS_FIELD)
    assert [h.dataset_id for h in result.hits] == [h.dataset_id for h in fresh.hits]
    status = result.status_of("nrao")
    synced_at = registry.sources()[0]["synced_at"]
    assert status.status == "ok" and status.stale and status.synced_at == synced_at
    assert status.to_json()["stale"] is True and synced_at in status.message
    assert "stale, synced" in result._repr_html_()
    assert registry.sources()[0]["stale"] and registry.sources()[0]["last_status"] == "error"
