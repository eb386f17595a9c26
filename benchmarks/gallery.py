"""Gallery benchmark: the hub's gallery (``GET /services/vlass/api/gallery``) at 10^2, 10^3 and 10^4 published
capsules, against the plain listing of the same capsules (``GET /services/vlass/api/capsules``) in the same run.

One real run is published: the tiny square notebook of the hub tests, run as a local job. The other capsules are
its variants, each a real capsule signed with the hub service's own key: other authors (``--authors``), titles,
publication times and parameters, one in five a replay of an earlier one (its parent linked), each pinning one
of the hub registry's sample dataset versions in turn (all public: every variant is visible to every user). They are synthesized records of one real run, which the gallery
reads exactly as real runs (crate, manifest, signature, every file's bytes when it verifies one).

Through a real hub (``hub_config/demo_config.py``, the proxy in front), one user's token, one request at a time:
``cold_ms`` is the first gallery page after the capsules were added (each new signature verified once in the
service process), ``p50_ms`` / ``p95_ms`` of ``--rounds`` pages after it, ``listing_p50_ms`` the plain listing,
``ratio_p50`` gallery / listing; ``region_p95_ms`` a cone search of the gallery (the registry's index finds the
versions there, then the capsules that read them), ``author_p95_ms`` an author facet, ``ratio_region_p95`` the
region search against the plain listing's p95. ``export``: an institute's report of ``--export`` capsules (a date range)
exported in-process from a fresh store as PROV-JSON, DataCite and PROV-O; ``start_check``: the signature check of
every stored capsule the service runs in the background at its start, timed in-process.

Root (the hub starts as in the tests) and configurable-http-proxy are needed.

    python benchmarks/gallery.py --json
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jupyter_vlass.federation.registry import Registry  # noqa: E402
from jupyter_vlass.jobs.jobs import Jobs  # noqa: E402
from jupyter_vlass.jobs.sites import LocalSite  # noqa: E402
from jupyter_vlass.reproducibility.capsule import publish  # noqa: E402
from jupyter_vlass.reproducibility.keys import Keyring  # noqa: E402
from jupyter_vlass.reproducibility.layout import CRATE, MANIFEST, SIGNATURE, capsule_id_of, read_bundle, signed_files  # noqa: E402
from jupyter_vlass.reproducibility.signing import KeyringSigner  # noqa: E402
from tests.hub import JOB_ENV, own_hub  # noqa: E402

ACCOUNT = "vlt-bench"
REGION = "209.25,-18.0,0.5"  # the VLASS tile J135700-180000 of the sample, and what derives from it
SQUARE = {"cells": [
    {"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": "i = 0\ninputs = {}", "outputs": [],
     "execution_count": None, "id": "p"},
    {"cell_type": "code", "metadata": {}, "source": "open('square.txt', 'w').write(str(i * i))", "outputs": [],
     "execution_count": None, "id": "s"}],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    "nbformat": 4, "nbformat_minor": 5}


def real_capsule(work: Path, keyring: Keyring) -> Path:
    """The one real run: the square notebook as a local job, published and signed with ``keyring``."""
    import hashlib

    area = work / "area"
    area.mkdir(mode=0o755)
    (area / "square.ipynb").write_text(json.dumps(SQUARE))
    subprocess.run(["chmod", "-R", "a+rX", str(work)], check=True)
    registry = Registry(f"sqlite:///{work / 'registry.sqlite'}", groups=())
    jobs = Jobs(registry, sites={"local": LocalSite(python=str(JOB_ENV / "bin" / "python"), account=ACCOUNT)},
                root=area, owner="bench-00", jobs_dir=area / "jobs")
    digest = hashlib.sha256((area / "square.ipynb").read_bytes()).hexdigest()
    job = jobs.submit({"manifest_version": 1, "site": "local", "inputs": [], "parameters": {"i": 7},
                       "notebook": {"path": "square.ipynb", "sha256": digest}})
    assert job.wait(timeout=300).state == "done", job.log()
    return publish(job, store=work / "real", keyring=keyring).path


def variant(original: Path, target_root: Path, signer: KeyringSigner, index: int, *, authors: int,
            parents: list[str], staging: Path, pins: list[dict]) -> str:
    """A copy of ``original`` as another author's analysis (every fifth a replay of an earlier one) that read one
    of ``pins`` (the hub registry's sample versions, in turn), signed."""
    folder = staging / f"v{index}"
    shutil.copytree(original, folder)
    (folder / SIGNATURE).unlink()
    owner = f"bench-{index % authors:02d}"
    crate = json.loads((folder / CRATE).read_text())
    published = datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(minutes=index)
    for entity in crate["@graph"]:
        if entity.get("@id") == "./":
            entity["name"] = f"square of {index} ({owner})"
            entity["datePublished"] = published.isoformat().replace("+00:00", "Z")
            if parents and index % 5 == 0:
                entity["isBasedOn"] = {"@id": f"capsule:{parents[index % len(parents)]}"}
        elif entity.get("@id") == "#agent":
            entity["name"] = owner
    (folder / CRATE).write_text(json.dumps(crate, indent=1, sort_keys=True))
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest["parameters"] = {"i": index}
    manifest["inputs"] = [pins[index % len(pins)]]
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
    signer.sign(folder, owner=owner)
    capsule_id = capsule_id_of(signed_files(read_bundle(folder / SIGNATURE)))
    folder.rename(target_root / capsule_id)
    return capsule_id


def export_report(store_root: Path, capsules: int) -> dict:
    """An institute's report of ``capsules`` analyses (the oldest, by date) exported in-process from a fresh store
    (every summary read once), in each format: seconds and megabytes."""
    from jupyter_vlass.reproducibility.provenance import export, select
    from jupyter_vlass.reproducibility.store import CapsuleStore

    found = {}
    for fmt in ("prov-json", "datacite", "prov-o"):
        store = CapsuleStore(store_root)
        t0 = time.perf_counter()
        chosen = select(store.list(), since="2026-01-01")[-capsules:]
        text = export(store, chosen, fmt)
        found[fmt] = {"capsules": len(chosen), "s": round(time.perf_counter() - t0, 2), "mb": round(len(text) / 1e6, 2)}
    return found


def start_check(store_root: Path, keyring: Keyring) -> dict:
    """What the service does in the background at its start (every stored capsule's signature checked, so that
    its first gallery page does not wait for them), timed in-process on a fresh store."""
    from jupyter_vlass.reproducibility.gallery import SignatureChecks
    from jupyter_vlass.reproducibility.store import CapsuleStore

    t0 = time.perf_counter()
    count = SignatureChecks(keyring).warm(CapsuleStore(store_root))
    return {"capsules": count, "s": round(time.perf_counter() - t0, 1)}


def percentiles(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {"p50_ms": round(statistics.median(ordered) * 1000, 2),
            "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1000, 2)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--authors", type=int, default=50)
    parser.add_argument("--export", type=int, default=1000, help="capsules in the exported report")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    if subprocess.run(["id", ACCOUNT], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", ACCOUNT], check=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="vlass-bench-gallery-") as tmp:
        work = Path(tmp)
        work.chmod(0o755)
        with own_hub(work / "hub", VLASS_PAGE_RATE="100000/s") as hub:  # the sample registry; no rate limit met
            reader = "bench-reader"
            hub.user(reader, allocation=None)
            token = hub.token_for(reader)
            keyring = Keyring(hub.workdir / "vlass-keys")  # the service's own keyring (demo_config's default)
            assert hub.service("GET", "/api/keys", token=token).status_code == 200
            original = real_capsule(work, keyring)
            store, staging = hub.state / "capsules", work / "staging"
            store.mkdir(exist_ok=True)
            staging.mkdir()
            signer, ids = KeyringSigner(keyring), []
            session = requests.Session()
            found = hub.service("GET", "/api/datasets", token=token, params={"range": "0,360,-90,90", "limit": 100}).json()
            pins = [{"id": h["id"], "version": h["version"], "sha256": h["sha256"]} for h in found["datasets"]]
            assert pins, found

            def timed(path: str) -> tuple[float, dict]:
                t0 = time.perf_counter()
                answer = session.get(f"{hub.url}/services/vlass{path}", headers={"Authorization": f"token {token}"},
                                     timeout=600)
                elapsed = time.perf_counter() - t0
                answer.raise_for_status()
                return elapsed, answer.json()
            for size in sizes:
                t0 = time.perf_counter()
                while len(ids) < size:
                    ids.append(variant(original, store, signer, len(ids), authors=args.authors, parents=ids[:50],
                                       staging=staging, pins=pins))
                build_s = time.perf_counter() - t0
                cold, page = timed("/api/gallery?limit=20")
                assert page["total"] == size, (page["total"], size)
                warm = [timed("/api/gallery?limit=20")[0] for _ in range(args.rounds)]
                by_replays = [timed("/api/gallery?limit=20&sort=most_reproduced")[0] for _ in range(max(3, args.rounds // 4))]
                region = [timed(f"/api/gallery?limit=20&region={REGION}") for _ in range(args.rounds)]
                facet = [timed("/api/gallery?limit=20&author=bench-07") for _ in range(args.rounds)]
                listing = [timed("/api/capsules")[0] for _ in range(max(3, args.rounds // 4))]
                assert 0 < region[0][1]["total"] < size and facet[0][1]["total"] == len(range(7, size, args.authors))
                gallery, plain = percentiles(warm), percentiles(listing)
                in_region, by_author = percentiles([t for t, _ in region]), percentiles([t for t, _ in facet])
                results.append({"capsules": size, "build_s": round(build_s, 1), "cold_ms": round(cold * 1000, 1),
                                **gallery, "most_reproduced_p50_ms": percentiles(by_replays)["p50_ms"],
                                "region_p95_ms": in_region["p95_ms"], "region_total": region[0][1]["total"],
                                "author_p95_ms": by_author["p95_ms"], "listing_p50_ms": plain["p50_ms"],
                                "listing_p95_ms": plain["p95_ms"],
                                "ratio_p50": round(gallery["p50_ms"] / plain["p50_ms"], 2),
                                "ratio_region_p95": round(in_region["p95_ms"] / plain["p95_ms"], 2)})
                if not args.json:
                    print(results[-1], flush=True)
            exported = export_report(store, min(args.export, len(ids)))
            exported["start_check"] = start_check(store, keyring)
    report = {"benchmark": "gallery", "date": datetime.now(timezone.utc).isoformat(timespec="minutes"),
              "machine": f"{platform.machine()}, {platform.python_version()}", "results": results,
              "export": exported}
    print(json.dumps(report, indent=1) if args.json else "")
    return 0


if __name__ == "__main__":
    sys.exit(main())
