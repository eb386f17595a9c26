"""Analysis-job benchmark: cache hits through REST, staging throughput, status lag, Slurm submissions.

* ``cache_hit_ms``: REST ``POST /vlass/api/jobs`` of an analysis already computed (a new job: its result is
  delivered elsewhere, so its manifest differs but its result key does not) -> the job document with the
  result, for results of each ``--sizes`` MB; the worst size is reported, next to the recompute time.
* ``staging_ratio``: staging ``--staging-mb`` MB (random bytes in a POSIX object store; throughput only,
  no astronomy in them) into a fresh scratch directory, read through the registry and verified by sha256,
  against a plain ``cp`` of the same bytes in the same run (page cache warm for both); and the same into an
  S3 scratch on SeaweedFS (multipart, every part's MD5 checked, sha256 of the whole) against a plain s3fs
  ``put_file`` of the same bytes to the same store. The worse ratio is reported.
* ``status_lag_p95_s``: the moment the REST job document first says ``running`` minus Slurm's recorded
  start of the job (``scontrol``'s StartTime, 1 s resolution), over ``--lag-jobs`` jobs.
* ``submit_success_rate``: ``--submissions`` distinct jobs to Slurm (CPU partition); then ``--concurrent``
  submissions at once of half as many manifests (each twice): lost and duplicated jobs are counted.

Needs root, the local Slurm and the job environment (``make test`` installs them).

    python benchmarks/jobs.py --json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jupyter_vlass.jobs.jobs import Jobs  # noqa: E402
from jupyter_vlass.compute.profiles import load_profiles  # noqa: E402
from jupyter_vlass.jobs.s3scratch import S3Scratch, StoreOptions  # noqa: E402
from jupyter_vlass.jobs.sites import LocalSite, SlurmJobSite  # noqa: E402
from jupyter_vlass.jobs.staging import sha256_file as sha256  # noqa: E402
from jupyter_vlass.jobs.staging import stage  # noqa: E402
from jupyter_vlass.federation.registry import Registry  # noqa: E402
from tests.hub import JOB_ENV, _local_slurm  # noqa: E402
from tests.jupyter_process import TOKEN, jupyter  # noqa: E402

ACCOUNT = "vlt-bench"
REPO = Path(__file__).resolve().parents[1]
KERNELSPEC = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}


def notebook(path: Path, parameters: str, body: str) -> None:
    cells = [nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]}), nbformat.v4.new_code_cell(body)]
    nbformat.write(nbformat.v4.new_notebook(cells=cells, metadata=KERNELSPEC), path)


def manifest(area: Path, name: str, site: str = "local", **extra) -> dict:
    doc = {"manifest_version": 1, "site": site, "notebook": {"path": name, "sha256": sha256(area / name)}}
    doc.update(extra)
    return doc


def rest(url: str, method: str, path: str, body=None) -> dict:
    response = requests.request(method, f"{url}/vlass/api/{path}", data=json.dumps(body) if body else None,
                                headers={"Authorization": f"token {TOKEN}"}, timeout=600)
    response.raise_for_status()
    return response.json()


def until(url: str, job_id: str, states=("done", "failed", "cancelled"), interval=0.1) -> tuple[dict, float]:
    while True:
        job = rest(url, "GET", f"jobs/{job_id}")
        if job["state"] in states:
            return job, time.time()
        time.sleep(interval)


def cache_hits(url: str, area: Path, sizes: list[int]) -> dict:
    out = {}
    for size in sizes:
        doc = manifest(area, "write.ipynb", parameters={"size_mb": size})
        started = time.perf_counter()
        job = rest(url, "POST", "jobs", doc)
        job, _ = until(url, job["id"])
        recompute = time.perf_counter() - started
        assert job["state"] == "done", job
        again = dict(doc, output={"retention_days": 7})  # another job, the same result
        started = time.perf_counter()
        hit = rest(url, "POST", "jobs", again)
        hit_ms = (time.perf_counter() - started) * 1000
        assert hit["state"] == "done" and hit["cached_from"] == "local", hit
        out[f"{size}MB"] = {"hit_ms": round(hit_ms, 1), "recompute_s": round(recompute, 2)}
    return out


def staging(work: Path, megabytes: int) -> dict:
    store = work / "store"
    store.mkdir()
    blob = store / "random.bin"
    with open(blob, "wb") as fh:
        for _ in range(megabytes):
            fh.write(os.urandom(1 << 20))
    (store / "manifest.json").write_text(json.dumps({"objects": [{
        "key": "random.bin", "sha256": sha256(blob), "size": blob.stat().st_size, "format": "application/octet-stream",
        "footprint": {"ra": 209.25, "dec": -18.0, "radius": 0.1}}]}))
    registry = Registry(f"sqlite:///{work / 'staging.sqlite'}", groups=())
    registry.add_source("bench", "posix", str(store / "manifest.json"))
    registry.sync()
    record = registry.get("bench:random.bin")
    shutil.copyfile(blob, work / "warm.bin")  # warm the page cache for both
    started = time.perf_counter()
    subprocess.run(["cp", str(blob), str(work / "copy.bin")], check=True)
    cp_s = time.perf_counter() - started
    started = time.perf_counter()
    stage(registry, record, work / "scratch")
    stage_s = time.perf_counter() - started
    started = time.perf_counter()
    stage(registry, record, work / "scratch")  # already there: verified, not copied
    again_s = time.perf_counter() - started
    for name in ("warm.bin", "copy.bin"):
        (work / name).unlink()
    shutil.rmtree(work / "scratch")
    mb = megabytes
    return {"posix": {"megabytes": mb, "stage_s": round(stage_s, 3), "cp_s": round(cp_s, 3),
                      "stage_MBps": round(mb / stage_s), "cp_MBps": round(mb / cp_s),
                      "ratio": round(cp_s / stage_s, 3), "already_there_s": round(again_s, 3)},
            "s3": staging_s3(work, registry, record, blob, mb)}


def staging_s3(work: Path, registry, record, blob: Path, mb: int) -> dict:
    """Staging to SeaweedFS through S3Scratch (multipart, verified) against s3fs ``put_file`` of the same bytes."""
    from tests.services import SeaweedFS

    server = SeaweedFS(work / "seaweedfs").start()
    try:
        fs = server.fs()
        fs.mkdir("plain")
        started = time.perf_counter()
        fs.put_file(str(blob), "plain/random.bin")
        put_s = time.perf_counter() - started
        scratch = S3Scratch("s3://scratch/bench", StoreOptions(endpoint_url=server.endpoint, anon=True))
        started = time.perf_counter()
        scratch.stage(registry, record)
        stage_s = time.perf_counter() - started
        started = time.perf_counter()
        scratch.stage(registry, record)  # already there: the object's sha256 and size, nothing sent
        again_s = time.perf_counter() - started
    finally:
        server.stop()
    return {"megabytes": mb, "stage_s": round(stage_s, 3), "put_s": round(put_s, 3),
            "stage_MBps": round(mb / stage_s), "put_MBps": round(mb / put_s), "ratio": round(put_s / stage_s, 3),
            "already_there_s": round(again_s, 3)}


def status_lag(url: str, area: Path, count: int) -> dict:
    lags = []
    for i in range(count):
        doc = manifest(area, "tiny.ipynb", site="slurm", profile="tacc-cpu", parameters={"i": 10_000 + i})
        job = rest(url, "POST", "jobs", doc)
        job, seen = until(url, job["id"], states=("running", "done", "failed"), interval=0.05)
        out = subprocess.run(["scontrol", "show", "job", job["site_job_id"]], capture_output=True, text=True).stdout
        start_text = out.split("StartTime=", 1)[1].split()[0]
        assert start_text != "Unknown", (job, out)
        start = datetime.fromisoformat(start_text).replace(tzinfo=datetime.now().astimezone().tzinfo).timestamp()
        lags.append(seen - start)
        until(url, job["id"])
    lags.sort()
    return {"p50_s": round(statistics.median(lags), 2), "p95_s": round(lags[int(0.95 * (len(lags) - 1))], 2),
            "max_s": round(lags[-1], 2), "jobs": count}


def submissions(jobs: Jobs, area: Path, count: int, concurrent: int) -> dict:
    docs = [manifest(area, "tiny.ipynb", site="slurm", profile="tacc-cpu", parameters={"i": i}) for i in range(count)]
    submitted = []
    for doc in docs:
        try:
            submitted.append(jobs.submit(doc))
        except Exception as error:  # counted, not raised: this is the success rate
            print(f"submission failed: {error}", file=sys.stderr)
    ended = [job.wait(timeout=1800).status() for job in submitted]
    done = sum(job["state"] == "done" for job in ended)
    failures = [f"{job['state']}: {job['reason']}" for job in ended if job["state"] != "done"]
    distinct = [manifest(area, "tiny.ipynb", site="slurm", profile="tacc-cpu", parameters={"i": 1000 + i})
                for i in range(concurrent // 2)]
    with ThreadPoolExecutor(concurrent) as pool:
        ids = list(pool.map(lambda d: jobs.submit(d).id, distinct + distinct))
    with jobs.sessions() as session:
        from sqlalchemy import func, select

        from jupyter_vlass.store import JobRow
        rows = session.scalar(select(func.count()).select_from(JobRow).where(JobRow.digest.in_(
            [jobs_digest(d) for d in distinct])))
    for job_id in set(ids):
        jobs.get(job_id).wait(timeout=1800)
    return {"submitted": count, "done": done, "rate": done / count, "failures": failures,
            "concurrent": {"submissions": len(ids), "manifests": len(distinct), "jobs": len(set(ids)),
                           "rows": rows, "lost": len(distinct) - len(set(ids)), "duplicated": rows - len(distinct)}}


def jobs_digest(doc: dict) -> str:
    from jupyter_vlass.jobs.manifest import JobManifest

    return JobManifest.from_json(doc).digest


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,1000", help="result sizes in MB (default 1,1000)")
    parser.add_argument("--staging-mb", type=int, default=1000)
    parser.add_argument("--lag-jobs", type=int, default=10)
    parser.add_argument("--submissions", type=int, default=100)
    parser.add_argument("--concurrent", type=int, default=50)
    parser.add_argument("--only-staging", action="store_true", help="measure staging alone (no Slurm, no server)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.only_staging:
        work = Path(tempfile.mkdtemp(prefix="vlass-bench-staging-"))
        try:
            figures = staging(work, args.staging_mb)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        figures["staging_ratio"] = min(figures["posix"]["ratio"], figures["s3"]["ratio"])
        print(json.dumps(figures, indent=2) if args.json else figures)
        return 0
    if subprocess.run(["id", ACCOUNT], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", ACCOUNT], check=True)
    cluster = _local_slurm()
    was_up = cluster.running()
    cluster.up()
    work = Path(tempfile.mkdtemp(prefix="vlass-bench-jobs-"))
    work.chmod(0o755)
    area = work / "area"
    area.mkdir(mode=0o755)
    notebook(area / "write.ipynb", "size_mb = 1\ninputs = {}",
             "import os\nwith open('result.bin', 'wb') as fh:\n    for _ in range(size_mb):\n"
             "        fh.write(os.urandom(1 << 20))")
    notebook(area / "tiny.ipynb", "i = 0\ninputs = {}", "print(i * i)")
    registry_url = f"sqlite:///{work / 'registry.sqlite'}"
    Registry(registry_url, groups=()).close()
    profiles = REPO / "hub_config" / "profiles.yaml"
    sites = {"local": {"kind": "local", "python": str(JOB_ENV / "bin" / "python")},
             "slurm": {"kind": "slurm", "environment": str(JOB_ENV), "poll_interval": 1.0}}
    vlass = {"db_url": registry_url, "job_sites": sites, "job_account": ACCOUNT, "jobs_dir": str(work / "jobs"),
             "job_profiles_file": str(profiles)}
    result = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "machine": f"{platform.machine()} {os.cpu_count()} cores"}
    try:
        with jupyter("jupyter_server", work, root=area, vlass=vlass) as url:
            result["cache_hit"] = cache_hits(url, area, [int(s) for s in args.sizes.split(",")])
            result["status_lag"] = status_lag(url, area, args.lag_jobs)
        result["staging"] = staging(work, args.staging_mb)
        registry = Registry(registry_url, groups=())
        jobs = Jobs(registry, sites={"slurm": SlurmJobSite(environment=str(JOB_ENV), account=ACCOUNT,
                                                           poll_interval=1.0),
                                     "local": LocalSite(python=str(JOB_ENV / "bin" / "python"), account=ACCOUNT)},
                    root=area, owner="bench", jobs_dir=work / "jobs", profiles=load_profiles(profiles))
        result["submissions"] = submissions(jobs, area, args.submissions, args.concurrent)
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(work)], check=False)
        shutil.rmtree(work, ignore_errors=True)
        if not was_up:
            cluster.down()
    result["cache_hit_ms"] = max(v["hit_ms"] for v in result["cache_hit"].values())
    result["staging_ratio"] = min(result["staging"]["posix"]["ratio"], result["staging"]["s3"]["ratio"])
    result["status_lag_p95_s"] = result["status_lag"]["p95_s"]
    result["submit_success_rate"] = result["submissions"]["rate"]
    print(json.dumps(result, indent=2) if args.json else result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
