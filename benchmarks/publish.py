"""Capsule benchmark: what publishing costs over a plain papermill run, and hashing throughput.

* ``publish_overhead_s``: the analysis notebook (``notebooks/analysis-rms-catalogue.ipynb``) on the real
  FIRST cutout, run by plain ``papermill.execute_notebook`` in this process, then as a local job and
  published as a signed capsule; the overhead is the publish step minus the time its hashing takes on its
  own (hashlib over the capsule's bytes), median of ``--rounds`` (the first publish, which imports Model
  Signing and makes the site's first key, is reported on its own). Goal: <= 0.5 s plus hashing.
* ``hash_ratio_openssl``: a capsule holding ``--megabytes`` MB of random bytes (throughput only, no
  astronomy) verified (signature and every file; Model Signing's hashing), against ``openssl dgst -sha256``
  of the same bytes in the same run, page cache warm: openssl's time / verify's time. Goal: >= 0.8.

Needs root (jobs run as an unprivileged account) and the job environment (``make test`` installs it).

    python benchmarks/publish.py --json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jupyter_vlass.jobs.jobs import Jobs  # noqa: E402
from jupyter_vlass.jobs.sites import LocalSite  # noqa: E402
from jupyter_vlass.federation.registry import Registry  # noqa: E402
from jupyter_vlass.federation.sources._io import local_path  # noqa: E402
from jupyter_vlass.reproducibility.capsule import publish, verify  # noqa: E402
from jupyter_vlass.reproducibility.keys import Keyring  # noqa: E402
from jupyter_vlass.sample_data import build_sample_data  # noqa: E402
from tests.compute.jobs_fixtures import manifest  # noqa: E402
from tests.hub import JOB_ENV  # noqa: E402

ACCOUNT = "vlt-bench"
REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "analysis-rms-catalogue.ipynb"
FIRST = "tacc:first/J105007+304037.fits"


def hash_seconds(folder: Path) -> float:
    started = time.perf_counter()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "capsule.sig"):
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
    return time.perf_counter() - started


def publish_overhead(work: Path, rounds: int) -> dict:
    import papermill

    sample = build_sample_data(work / "sample", full_tile=False, cache=REPO / "data" / "cache")
    registry = Registry(f"sqlite:///{work / 'registry.sqlite'}", groups=())
    registry.add_source("tacc", "posix", str(sample["manifest"]))
    registry.sync()
    first = registry.get(FIRST)
    area = work / "area"
    area.mkdir(mode=0o755)
    shutil.copy(NOTEBOOK, area / NOTEBOOK.name)
    subprocess.run(["chmod", "-R", "a+rX", str(work)], check=True)
    plain, jobs_s, publish_s, hashing_s = [], [], [], []
    keyring = Keyring(work / "keys")
    site = LocalSite(python=str(JOB_ENV / "bin" / "python"), account=ACCOUNT)
    jobs = Jobs(registry, sites={"local": site}, root=area, owner="bench", jobs_dir=area / "jobs")
    for index in range(rounds):
        folder = work / f"plain-{index}"
        folder.mkdir()
        started = time.perf_counter()
        papermill.execute_notebook(str(NOTEBOOK), str(folder / "out.ipynb"), cwd=str(folder), progress_bar=False,
                                   parameters={"inputs": {FIRST: local_path(first.uri)},
                                               "threshold": 4.0 + index / 100})
        plain.append(time.perf_counter() - started)
        started = time.perf_counter()
        job = jobs.submit(manifest(area, inputs=[first], parameters={"threshold": 4.0 + index / 100}))
        job.wait(timeout=300, interval=0.05)
        jobs_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        capsule = publish(job, store=work / "capsules", keyring=keyring)
        publish_s.append(time.perf_counter() - started)
        hashing_s.append(hash_seconds(capsule.path))
    median = statistics.median
    return {"rounds": rounds, "papermill_s": round(median(plain), 3), "job_s": round(median(jobs_s), 3),
            "publish_s": round(median(publish_s), 3), "hashing_s": round(median(hashing_s), 4),
            "first_publish_s": round(publish_s[0], 3),  # imports model_signing and makes the site's first key
            "publish_overhead_s": round(median(p - h for p, h in zip(publish_s, hashing_s)), 3)}


def hash_throughput(work: Path, megabytes: int) -> dict:
    from model_signing import hashing, signing

    capsule = work / "big"
    capsule.mkdir()
    blob = capsule / "outputs.bin"
    with open(blob, "wb") as fh:
        for _ in range(megabytes):
            fh.write(os.urandom(1 << 20))
    keyring = Keyring(work / "big-keys")
    key_id = keyring.current()
    config = signing.Config().use_elliptic_key_signer(private_key=keyring.private_key_path(key_id))
    config.set_hashing_config(hashing.Config().set_ignored_paths(paths=["capsule.sig"], ignore_git_paths=True))
    subprocess.run(["openssl", "dgst", "-sha256", str(blob)], check=True, capture_output=True)  # warm the cache
    started = time.perf_counter()
    config.sign(capsule, capsule / "capsule.sig")
    sign_s = time.perf_counter() - started
    started = time.perf_counter()
    verify(capsule, keyring=keyring)
    verify_s = time.perf_counter() - started
    started = time.perf_counter()
    subprocess.run(["openssl", "dgst", "-sha256", str(blob)], check=True, capture_output=True)
    openssl_s = time.perf_counter() - started
    started = time.perf_counter()
    hash_seconds(capsule)
    hashlib_s = time.perf_counter() - started
    return {"megabytes": megabytes, "sign_s": round(sign_s, 3), "verify_s": round(verify_s, 3),
            "openssl_s": round(openssl_s, 3), "hashlib_s": round(hashlib_s, 3),
            "verify_ratio_openssl": round(openssl_s / verify_s, 3), "sign_ratio_openssl": round(openssl_s / sign_s, 3)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--megabytes", type=int, default=1000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if subprocess.run(["id", ACCOUNT], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", ACCOUNT], check=True)
    work = Path(tempfile.mkdtemp(prefix="vlass-bench-publish-"))
    work.chmod(0o755)
    result = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "machine": f"{platform.machine()} {os.cpu_count()} cores"}
    try:
        result["publish"] = publish_overhead(work, args.rounds)
        result["hashing"] = hash_throughput(work, args.megabytes)
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(work)], check=False)
        shutil.rmtree(work, ignore_errors=True)
    result["publish_overhead_s"] = result["publish"]["publish_overhead_s"]
    result["hash_ratio_openssl"] = result["hashing"]["verify_ratio_openssl"]
    print(json.dumps(result, indent=2) if args.json else result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
