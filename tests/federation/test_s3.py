"""The s3manifest source against a real S3 server (SeaweedFS)."""

import hashlib

from sqlalchemy import func, select

from jupyter_vlass.federation import Region
from jupyter_vlass.store import DatasetRow
from tests.services import upload_manifest_tree


def test_s3_manifest_sync_search_and_fetch(registry, sample_data, seaweedfs):
    uri = upload_manifest_tree(seaweedfs.fs(), sample_data["manifest"].parent, "tacc-bucket")
    registry.add_source("tacc", "s3manifest", uri, options={"endpoint_url": seaweedfs.endpoint})
    [report] = registry.sync("tacc")
    assert report.status == "ok", report.message
    assert report.added == 2
    record = registry.get("tacc:first/J105007+304037.fits")
    assert record.uri == "s3://tacc-bucket/radio/first/J105007+304037.fits"
    with registry.open(record) as fh:  # the bytes in S3 are the ones the manifest pins
        assert hashlib.sha256(fh.read()).hexdigest() == record.sha256
    hits = registry.search(Region.from_degrees(162.53, 30.677, 0.05), sources=["tacc"])
    assert [h.dataset_id for h in hits] == ["tacc:first/J105007+304037.fits"]
    [again] = registry.sync("tacc")
    assert again.status == "unchanged"


def test_s3_server_stopped_mid_sync_leaves_registry_as_it_was(registry, sample_data, seaweedfs_private):
    uri = upload_manifest_tree(seaweedfs_private.fs(), sample_data["manifest"].parent, "bucket")
    registry.add_source("tacc", "s3manifest", uri, options={"endpoint_url": seaweedfs_private.endpoint})

    def stop_after_first(done, _uri):
        if done == 1:
            seaweedfs_private.stop()

    [report] = registry.sync("tacc", progress=stop_after_first)
    assert report.status == "error" and "unavailable" in report.message
    with registry.Session() as s:  # the first object was read, but the transaction rolled back
        assert s.scalar(select(func.count()).select_from(DatasetRow)) == 0
    assert registry.sources()[0]["last_status"] == "error"


def test_s3_credentials_never_reach_the_store(tmp_path, sample_data, seaweedfs, monkeypatch):
    from jupyter_vlass.federation import Registry

    secret = "s3cr3t-value-for-test"
    monkeypatch.setenv("JUPYTER_VLASS_CRED_TACC_KEY", "keyid-for-test")
    monkeypatch.setenv("JUPYTER_VLASS_CRED_TACC_SECRET", secret)
    db = tmp_path / "reg.sqlite"
    registry = Registry(f"sqlite:///{db}")
    uri = upload_manifest_tree(seaweedfs.fs(), sample_data["manifest"].parent, "cred-bucket")
    registry.add_source("tacc", "s3manifest", uri, options={"endpoint_url": seaweedfs.endpoint})
    source = registry.source("tacc")
    assert source.credentials.get("secret") == secret and secret not in repr(source.credentials)
    assert registry.sync("tacc")[0].status == "ok"
    registry.engine.dispose()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("reg.sqlite"))
    assert secret.encode() not in raw and b"keyid-for-test" not in raw
    assert secret not in str(registry.sources())
