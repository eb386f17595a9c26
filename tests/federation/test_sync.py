"""Harvesting real sample data: local and HTTP VLASS trees, data packages, POSIX manifests."""

import os
import shutil

import pytest
from sqlalchemy import func, select

from jupyter_vlass.exceptions import Conflict, InvalidArgument, InvalidSource, UnknownSource
from jupyter_vlass.federation import Region, Registry
from jupyter_vlass.store import DatasetRow


def _rows(registry):
    with registry.Session() as s:
        return sorted((r.dataset_id, r.version, r.sha256, r.digest, r.withdrawn_at is None)
                      for r in s.scalars(select(DatasetRow)))


def test_vlass_local_sync_reads_every_image(registry, sample_data):
    registry.add_source("vlass", "vlass", str(sample_data["vlass"]), options={"hips": "http://example.invalid/hips"})
    [report] = registry.sync("vlass")
    assert report.status == "ok" and report.added == 5 and not report.skipped
    tile = registry.get("vlass:VLASS2.2.ql.T08t20.J135700-180000")
    assert tile.version == "v2"  # newest first
    assert [r.version for r in registry.versions(tile.dataset_id)] == ["v2", "v1"]
    assert tile.provenance["shape"] == [3722, 3722]
    import hashlib

    with open(tile.uri, "rb") as fh:
        assert tile.sha256 == hashlib.sha256(fh.read()).hexdigest()
    assert tile.extra["hips"] == "http://example.invalid/hips"
    assert "version v2, sha256:" + tile.sha256 in tile.citation()


def test_sync_is_idempotent_and_incremental(registry, sample_data, tmp_path):
    tree = tmp_path / "vlass"
    shutil.copytree(sample_data["vlass"], tree)
    registry.add_source("vlass", "vlass", str(tree))
    registry.sync()
    first = _rows(registry)
    [again] = registry.sync("vlass", force=True)
    assert again.added == again.updated == 0 and again.unchanged == 5
    assert _rows(registry) == first
    # replace one image's bytes: exactly that version is updated
    images = sorted(tree.rglob("*VLASS1.1*.fits"))
    shutil.copyfile(sorted(tree.rglob("*VLASS1.2*.fits"))[0], images[0])
    os.utime(images[0], ns=(1, 1))
    [changed] = registry.sync("vlass")
    assert (changed.added, changed.updated, changed.unchanged) == (0, 1, 4)
    # remove one image: it is withdrawn, not deleted (citations keep resolving)
    shutil.rmtree(images[0].parent)
    [gone] = registry.sync("vlass")
    assert gone.withdrawn == 1
    withdrawn = [r for r in _rows(registry) if not r[4]]
    assert len(withdrawn) == 1 and "VLASS1.1" in withdrawn[0][0]
    hits = registry.search(Region.from_degrees(149.25, -7.18, 0.2))
    assert {h.dataset_id for h in hits} == {"vlass:VLASS1.2.ql.T12t15.J095659-071103",
                                            "vlass:VLASS2.1.ql.T12t15.J095659-071103"}


def test_corrupt_file_is_skipped_and_the_rest_synced(registry, sample_data, tmp_path):
    tree = tmp_path / "vlass"
    shutil.copytree(sample_data["vlass"], tree)
    victim = sorted(tree.rglob("*VLASS1.2*.fits"))[0]
    victim.write_bytes(b"SIMPLE  =                    T" + b"garbage" * 1000)
    registry.add_source("vlass", "vlass", str(tree))
    [report] = registry.sync("vlass")
    assert report.status == "ok" and report.added == 4
    assert len(report.skipped) == 1 and report.skipped[0].uri == str(victim)


def test_vlass_over_http_matches_local(registry, sample_data, data_server):
    registry.add_source("local", "vlass", str(sample_data["vlass"]))
    registry.add_source("remote", "vlass", f"{data_server.url}/vlass")
    reports = registry.sync()
    assert [r.added for r in reports] == [5, 5]
    local = {(r[0].split(":", 1)[1], r[1], r[2]) for r in _rows(registry) if r[0].startswith("local:")}
    remote = {(r[0].split(":", 1)[1], r[1], r[2]) for r in _rows(registry) if r[0].startswith("remote:")}
    assert local == remote
    record = registry.get("remote:VLASS2.2.ql.T08t20.J135700-180000", "v1")
    assert record.uri.startswith(data_server.url)
    [again] = registry.sync("remote")  # etags unchanged: nothing re-downloaded
    assert again.unchanged == 5 and again.added == again.updated == 0


def test_http_500_fails_the_sync_without_writing(registry, data_server):
    registry.add_source("broken", "vlass", f"{data_server.url}/fail/vlass")
    [report] = registry.sync("broken")
    assert report.status == "error" and "500" in report.message
    with registry.Session() as s:
        assert s.scalar(select(func.count()).select_from(DatasetRow)) == 0
    assert registry.sources()[0]["last_status"] == "error"


def test_datapackage_versions_side_by_side_and_lineage(demo_registry, sample_data):
    versions = demo_registry.versions("curated:racs-1357-18-components")
    assert [v.version for v in versions] == ["1.1.0", "1.0.0"]
    assert versions[0].size > versions[1].size  # 1.1.0 adds the NVSS extract
    doc = demo_registry.describe("curated:racs-1357-18-components")
    parent = doc["versions"][0]["derived_from_resolved"][0]
    assert parent["id"] == "vlass:VLASS2.2.ql.T08t20.J135700-180000" and parent["version"] == "v1"
    tile_doc = demo_registry.describe("vlass:VLASS2.2.ql.T08t20.J135700-180000")
    v1 = next(v for v in tile_doc["versions"] if v["version"] == "v1")
    assert v1["derivatives"] == ["curated:racs-1357-18-components@1.1.0"]


def test_tampered_package_is_skipped(registry, sample_data, tmp_path):
    root = tmp_path / "packages"
    shutil.copytree(sample_data["package_1.0.0"].parent.parent.parent, root)
    nvss = next(root.rglob("1.1.0/NVSS.fits"))
    nvss.write_bytes(nvss.read_bytes()[:-10] + b"0123456789")
    registry.add_source("curated", "datapackage", str(root))
    [report] = registry.sync()
    assert report.added == 1 and len(report.skipped) == 1
    assert "does not match its sha256" in report.skipped[0].reason


def test_posix_manifest_reads_fits_footprint_from_header(demo_registry):
    record = demo_registry.get("tacc:first/J105007+304037.fits")
    assert record.version == "2026.1"
    assert abs(record.center.ra.deg - 162.53) < 0.05
    with demo_registry.open(record) as fh:
        assert fh.read(6) == b"SIMPLE"


@pytest.mark.parametrize("name, kind, uri, error", [
    ("Bad Name", "vlass", ".", InvalidArgument),
    ("x", "nosuchkind", ".", InvalidSource),
    ("x", "vlass", "/does/not/exist", InvalidSource),
    ("x", "sia2", "ftp://example.org/sia", InvalidSource),
    ("x", "sia2", "http://", InvalidSource),
    ("x", "s3manifest", "s3://bucket/no-manifest", InvalidSource),
    ("x", "vlass", "file:///tmp/\nmalicious", InvalidSource),
])
def test_bad_source_definitions_write_nothing(registry, name, kind, uri, error):
    with pytest.raises(error):
        registry.add_source(name, kind, uri)
    assert registry.sources() == []


def test_duplicate_and_unknown_sources(demo_registry):
    with pytest.raises(Conflict, match="already exists"):
        demo_registry.add_source("vlass", "vlass", ".")
    with pytest.raises(UnknownSource):
        demo_registry.sync("nope")
    with pytest.raises(UnknownSource):
        demo_registry.search(Region.from_degrees(1, 1, 1), sources=["nope"])


def test_shared_registry_file_is_seen_by_a_second_process_handle(demo_registry, tmp_path):
    other = Registry(demo_registry.engine.url.render_as_string(hide_password=False))
    assert {s["name"] for s in other.sources()} == {"vlass", "curated", "tacc"}
