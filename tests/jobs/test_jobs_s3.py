"""Staging to an S3 scratch (SeaweedFS through s3fs): verified multipart uploads that resume after the
store stops mid-transfer, are skipped when the same bytes are there, and never leave a wrong object;
an analysis job that reads its inputs from the store and writes its results there (``s3://`` URIs).

The transfer tests stage random bytes (throughput only, no astronomy in them) served by a POSIX manifest
source; the job test runs the real analysis notebook on the real FIRST cutout."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import pytest

from jupyter_vlass.jobs.jobs import Jobs
from jupyter_vlass.jobs.s3scratch import S3Scratch, StoreOptions
from jupyter_vlass.jobs.sites import LocalSite, sites_from_config
from jupyter_vlass.exceptions import CorruptData, InvalidRequest, SourceUnavailable
from jupyter_vlass.federation.registry import Registry
from tests.jobs.jobs_fixtures import manifest
from tests.hub import JOB_ENV

pytestmark = pytest.mark.timeout(300)
MiB = 1 << 20
FIRST = "tacc:first/J105007+304037.fits"


def random_source(tmp_path, size: int, *, sha256: str | None = None) -> tuple[Registry, object, bytes]:
    store = tmp_path / "store"
    store.mkdir(parents=True)
    data = os.urandom(size)
    (store / "random.bin").write_bytes(data)
    (store / "manifest.json").write_text(json.dumps({"objects": [{
        "key": "random.bin", "sha256": sha256 or hashlib.sha256(data).hexdigest(), "size": size,
        "format": "application/octet-stream", "footprint": {"ra": 209.25, "dec": -18.0, "radius": 0.1}}]}))
    registry = Registry(f"sqlite:///{tmp_path / 'registry.sqlite'}", groups=())
    registry.add_source("bytes", "posix", str(store / "manifest.json"))
    registry.sync()
    return registry, registry.get("bytes:random.bin"), data


def scratch_of(seaweed, part_size=5 * MiB) -> S3Scratch:
    return S3Scratch("s3://scratch/site-a", StoreOptions(endpoint_url=seaweed.endpoint, anon=True),
                     part_size=part_size)


def test_staging_resumes_after_the_store_stops_mid_transfer(tmp_path, seaweedfs_private):
    registry, record, data = random_source(tmp_path, 8 * 5 * MiB + 123)
    fs = seaweedfs_private.fs()

    def stop_store_midway(done, total):
        if done >= 4 * 5 * MiB and seaweedfs_private.proc.poll() is None:
            seaweedfs_private.stop()

    with pytest.raises(SourceUnavailable, match="resumes where it stopped"):
        scratch_of(seaweedfs_private).stage(registry, record, progress=stop_store_midway)
    seaweedfs_private.start()  # same ports, same data
    key = scratch_of(seaweedfs_private).key(f"{record.sha256}-random.bin")
    assert not fs.exists(f"scratch/{key}")  # a half-sent object is never visible under its name

    staged = scratch_of(seaweedfs_private).stage(registry, record)
    assert staged.reused >= 2 * 5 * MiB and staged.sent < len(data)  # only the rest was sent again
    assert staged.reused + staged.sent == len(data)
    assert hashlib.sha256(fs.cat(staged.location[5:])).hexdigest() == record.sha256
    assert fs.call_s3("list_multipart_uploads", Bucket="scratch").get("Uploads", []) == []

    again = scratch_of(seaweedfs_private).stage(registry, record)
    assert (again.location, again.sent, again.reused) == (staged.location, 0, len(data))


def test_bytes_that_do_not_match_the_version_are_never_staged(tmp_path, seaweedfs):
    registry, record, _ = random_source(tmp_path, 6 * MiB, sha256="0" * 64)
    scratch = S3Scratch("s3://scratch-corrupt/x", StoreOptions(endpoint_url=seaweedfs.endpoint, anon=True),
                        part_size=5 * MiB)
    with pytest.raises(CorruptData, match="do not match its sha256"):
        scratch.stage(registry, record)
    fs = seaweedfs.fs()
    assert fs.find("scratch-corrupt") == []
    assert fs.call_s3("list_multipart_uploads", Bucket="scratch-corrupt").get("Uploads", []) == []


def test_scratch_is_cleaned_under_its_quota_keeping_what_jobs_use(tmp_path, seaweedfs):
    scratch = S3Scratch("s3://scratch-quota/site", StoreOptions(endpoint_url=seaweedfs.endpoint, anon=True))
    staged = []
    for i in range(3):
        registry, record, _ = random_source(tmp_path / str(i), MiB)
        staged.append(scratch.stage(registry, record).location)
        time.sleep(1.1)  # S3 keeps modification times to the second
    removed = scratch.clean(quota_bytes=int(2.5 * MiB), keep={staged[0]})
    assert removed == [staged[1]]  # the oldest not in use; then the scratch fits
    assert sorted(seaweedfs.fs().find("scratch-quota/site/inputs")) == sorted(u[5:] for u in (staged[0], staged[2]))


def test_site_settings_for_an_s3_scratch_are_checked(job_accounts):
    sites = sites_from_config({"s": {"kind": "local", "scratch": "s3://bucket/prefix",
                                     "store": {"endpoint_url": "http://127.0.0.1:1", "anon": True}}},
                              account=job_accounts[0])
    assert isinstance(sites["s"].scratch(Path("/tmp/unused")), S3Scratch)
    for bad in ({"scratch": "relative/dir"}, {"scratch": "s3://"}, {"scratch": "s3://b/../x"},
                {"store": {"endpoint_url": "http://x", "key": "secret-in-config"}}, {"scratch_quota_gb": -1}):
        with pytest.raises(InvalidRequest, match=r"job sites\.s\."):
            sites_from_config({"s": {"kind": "local", **bad}}, account=job_accounts[0])


def test_a_job_reads_its_inputs_from_the_store_and_writes_its_results_there(demo_registry, area, job_env,
                                                                            job_accounts, seaweedfs):
    site = LocalSite(python=str(JOB_ENV / "bin" / "python"), account=job_accounts[0],
                     scratch="s3://jobs-scratch/local", store={"endpoint_url": seaweedfs.endpoint, "anon": True})
    jobs = Jobs(demo_registry, sites={"local": site}, root=area, owner="alice", jobs_dir=area / "jobs")
    first = demo_registry.get(FIRST)
    job = jobs.submit(manifest(area, inputs=[first], parameters={"threshold": 4.5}))
    status = job.wait(timeout=180).status()
    assert status["state"] == "done", (status, job.log())
    assert status["progress"]["total"] == first.size  # staged, with its progress in the job document
    fs = seaweedfs.fs()
    staged = json.loads((area / "jobs" / "alice" / job.id / "job.json").read_text())["inputs"][FIRST]
    assert staged.startswith("s3://jobs-scratch/local/inputs/") and fs.exists(staged[5:])
    files = {f["name"]: f for f in status["result"]["files"]}
    catalogue = files["catalogue.ecsv"]
    assert catalogue["uri"] == f"s3://jobs-scratch/local/results/{status['result_key']}/catalogue.ecsv"
    assert hashlib.sha256(fs.cat(catalogue["uri"][5:])).hexdigest() == catalogue["sha256"]
    assert job.result()["catalogue.ecsv"].read_bytes() == fs.cat(catalogue["uri"][5:])


def test_posix_staging_goes_on_after_an_interruption_and_never_keeps_wrong_bytes(tmp_path):
    from jupyter_vlass.jobs.staging import CHUNK, PosixScratch

    registry, record, data = random_source(tmp_path, 3 * CHUNK + 77)
    scratch = PosixScratch(tmp_path / "scratch")

    class Interrupted(Exception):
        pass

    def interrupt(done, total):
        if done >= 2 * CHUNK:
            raise Interrupted

    with pytest.raises(Interrupted):
        scratch.stage(registry, record, progress=interrupt)
    [part] = (tmp_path / "scratch").glob("*.part")
    assert part.stat().st_size == 2 * CHUNK and not list((tmp_path / "scratch").glob("*.bin"))
    seen = []
    staged = scratch.stage(registry, record, progress=lambda done, total: seen.append(done))
    assert seen[0] == 3 * CHUNK  # the first chunk read from the source is the third
    assert Path(staged.location).read_bytes() == data and not part.exists()

    # A .part whose bytes are not the source's: refused at the end, removed, the next try starts over.
    Path(staged.location).unlink()
    part.write_bytes(b"\0" * CHUNK)
    with pytest.raises(CorruptData):
        scratch.stage(registry, record)
    assert not part.exists() and not Path(staged.location).exists()
    assert Path(scratch.stage(registry, record).location).read_bytes() == data
