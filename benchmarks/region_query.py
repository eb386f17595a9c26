"""Region-query benchmark: the registry's footprint index against a brute-force astropy scan.

* A registry of ``--n`` footprints (default 10^6) spread uniformly over the VLASS sky (Dec > -40),
  each a VLASS Quick Look-sized box (0.5-1.03 deg, random orientation): a FITS catalogue loaded by the
  project's bulk path (a ``catalogue`` source's first sync: ``build_s``, the file's size ``db_mb``; SQLite).
* p50/p95 of ``Registry.search`` cone queries at radius 0.1, 1 and 5 deg (end to end: index
  lookup, exact MOC overlap, ranking), of the first page of 100 with the total (``limit=100``; checked
  equal to the full ranking's first 100), and of the brute-force baseline in the same run: astropy
  ``SkyCoord.separation`` of the query centre against every footprint centre (+ radii).
* Fan-out: three live SIA2 sources answering after 50, 100 and 300 ms (local HTTP servers
  returning pyvo's real ObsCore VOTable): total time vs. the slowest and vs. the sum.

    python benchmarks/region_query.py --n 1000000 --json
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jupyter_vlass.federation import Region, Registry  # noqa: E402
from jupyter_vlass.federation.bulk_footprints import footprint_cells  # noqa: E402
from jupyter_vlass.store import SourceRow  # noqa: E402

DEC_MIN = -40.0
RADII = (0.1, 1.0, 5.0)
PAGE = 100


def sky_positions(rng, n):
    z = rng.uniform(np.sin(np.radians(DEC_MIN)), 1.0, n)
    return rng.uniform(0, 360, n), np.degrees(np.arcsin(z))


def catalogue(n: int, seed: int, path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Write the survey's footprint catalogue (a FITS table of ``n`` boxes); returns their ra, dec and radius."""
    rng = np.random.default_rng(seed)
    ra, dec = sky_positions(rng, n)
    side = rng.uniform(0.5, 1.03, n)
    angle = rng.uniform(0, 90, n)
    ids = np.char.add("bench:tile-", np.arange(n).astype("U8"))
    Table({"dataset_id": ids, "uri": np.char.add(np.char.add("/bench/tile-", np.arange(n).astype("U8")), ".fits"),
           "title": np.char.add("tile ", np.arange(n).astype("U8")), "version": np.full(n, "v1"), "ra": ra,
           "dec": dec, "box_width": side, "box_angle": angle}).write(path, overwrite=True)
    return ra, dec, side / np.sqrt(2)


def build(registry: Registry, n: int, seed: int, directory: Path) -> dict:
    """The registry of ``n`` footprints through the project's bulk path: a catalogue source's first sync (the
    table read, footprints built, rows inserted in batches, indexes built after the load). Times both parts."""
    path = directory / "catalogue.fits"
    t0 = time.perf_counter()
    ra, dec, radius = catalogue(n, seed, path)
    written = time.perf_counter() - t0
    registry.add_source("bench", "catalogue", str(path))
    t0 = time.perf_counter()
    [report] = registry.sync("bench")
    assert report.status == "ok" and report.added == n, report.to_json()
    with registry.Session.begin() as session:  # the latency the old benchmark gave its source, for the ranking
        session.get(SourceRow, session.query(SourceRow.id).filter_by(name="bench").scalar()).latency_s = 0.02
    return {"ra": ra, "dec": dec, "radius": radius, "build_s": time.perf_counter() - t0, "catalogue_write_s": written,
            "catalogue_mb": path.stat().st_size / 1e6}


def footprint_cost(n: int, seed: int) -> float:
    """CPU microseconds per footprint of the bulk path's footprint step alone (mocpy's box MOCs, index cells, the
    stored blobs), one thread: the part of ``build_s`` that only more cores shorten."""
    rng = np.random.default_rng(seed + 3)
    ra, dec = sky_positions(rng, n)
    half = rng.uniform(0.5, 1.03, n) / 2
    t0 = time.process_time()
    footprint_cells(ra, dec, half, half, rng.uniform(0, 90, n), np.hypot(half, half), threads=1)
    return (time.process_time() - t0) / n * 1e6


def percentiles(samples):
    ordered = sorted(samples)
    return {"p50_ms": 1000 * statistics.median(ordered), "p95_ms": 1000 * ordered[int(0.95 * (len(ordered) - 1))],
            "n": len(ordered)}


def run_queries(registry, ra, dec, radius, queries, brute_queries, seed):
    rng = np.random.default_rng(seed + 1)
    centres = SkyCoord(ra * u.deg, dec * u.deg)
    out = {}
    for r in RADII:
        qra, qdec = sky_positions(rng, queries)
        qdec = np.clip(qdec, DEC_MIN + r, 90 - 1e-6)
        times, counts, checked, paged = [], [], 0, []
        for a, d in zip(qra, qdec):
            region = Region.from_degrees(a, d, r)
            t0 = time.perf_counter()
            result = registry.search(region, deadline=30)
            times.append(time.perf_counter() - t0)
            counts.append(len(result))
            t0 = time.perf_counter()
            first = registry.search(region, deadline=30, limit=PAGE)  # the first page with the total
            paged.append(time.perf_counter() - t0)
            assert first.total == len(result) and [h.dataset_id for h in first.hits] == \
                [h.dataset_id for h in result.hits[:PAGE]], "the first page is not the full ranking's"
        brute = []
        for a, d in zip(qra[:brute_queries], qdec[:brute_queries]):
            t0 = time.perf_counter()
            sep = SkyCoord(a * u.deg, d * u.deg).separation(centres).deg
            candidates = np.flatnonzero(sep <= r + radius)
            brute.append(time.perf_counter() - t0)
            # the index never misses a footprint whose centre lies inside the cone
            inside = set(np.flatnonzero(sep <= r).tolist())
            found = {int(h.dataset_id.split("-")[1]) for h in registry.search(Region.from_degrees(a, d, r), deadline=30)}
            assert inside <= found, "index missed a footprint"
            assert found <= set(candidates.tolist())
            checked += 1
        index_stats, brute_stats = percentiles(times), percentiles(brute)
        out[f"{r:g}deg"] = {
            "index": index_stats, "brute_force_astropy": brute_stats,
            "first_page": percentiles(paged), "page_ratio_p50": index_stats["p50_ms"] / percentiles(paged)["p50_ms"],
            "speedup_p50": brute_stats["p50_ms"] / index_stats["p50_ms"],
            "speedup_p95": brute_stats["p95_ms"] / index_stats["p95_ms"],
            "mean_results": float(np.mean(counts)), "answers_checked_against_brute_force": checked,
        }
    return out


def run_shapes(registry, ra, dec, queries, seed, half=1.0):
    """SIA2's RANGE and POLYGON beside the cone they sit in: a box of ``half`` degrees each way as a range
    and as a four-vertex polygon, and the cone of radius ``half`` at the same centres. Checked: every
    footprint whose centre lies in the range is found."""
    rng = np.random.default_rng(seed + 2)
    qra, qdec = sky_positions(rng, queries)
    qdec = np.clip(qdec, DEC_MIN + 2 * half, 80.0)
    times = {"cone": [], "range": [], "polygon": []}
    for a, d in zip(qra, qdec):
        w = half / np.cos(np.radians(d))
        shapes = {"cone": Region.from_degrees(a, d, half),
                  "range": Region.range((a - w) % 360, (a + w) % 360, d - half, d + half),
                  "polygon": Region.polygon([((a - w) % 360, d - half), ((a + w) % 360, d - half),
                                             ((a + w) % 360, d + half), ((a - w) % 360, d + half)])}
        for name, region in shapes.items():
            t0 = time.perf_counter()
            result = registry.search(region, deadline=30)
            times[name].append(time.perf_counter() - t0)
            if name == "range":
                inside = {k for k in np.flatnonzero((np.abs(dec - d) <= half) &
                                                    ((ra - (a - w)) % 360 <= 2 * w)).tolist()}
                assert inside <= {int(h.dataset_id.split("-")[1]) for h in result}, "the range missed a footprint"
    stats = {name: percentiles(t) for name, t in times.items()}
    return {**stats, **{f"{name}_over_cone_p50": stats[name]["p50_ms"] / stats["cone"]["p50_ms"]
                        for name in ("range", "polygon")}}


class _Slow(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self):
        time.sleep(int(self.path.split("/")[1]) / 1000)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-votable+xml")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


def fan_out(tmp: Path, repeats: int = 10):
    from jupyter_vlass.sample_data import fetch_real_files

    cache = Path(os.environ.get("JUPYTER_VLASS_SAMPLE_CACHE", Path(__file__).resolve().parents[1] / "data" / "cache"))
    _Slow.body = fetch_real_files(cache)["obscore_votable"].read_bytes()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    registry = Registry(f"sqlite:///{tmp / 'fanout.sqlite'}")
    latencies = (50, 100, 300)
    for ms in latencies:
        registry.add_source(f"sia{ms}", "sia2", f"{url}/{ms}/sia2")
    region = Region.from_degrees(3.5, 32.5, 1.0)
    registry.search(region)  # warm-up (imports, connections)
    totals = []
    for _ in range(repeats):
        result = registry.search(region, deadline=5)
        assert all(s.status == "ok" for s in result.sources)
        totals.append(result.elapsed_s)
    server.shutdown()
    total = statistics.median(totals)
    return {"source_latencies_ms": list(latencies), "total_p50_ms": 1000 * total,
            "slowest_ms": max(latencies), "sum_ms": sum(latencies),
            "total_over_slowest": total * 1000 / max(latencies), "total_over_sum": total * 1000 / sum(latencies)}


def rest_load(db_url: str, tmp: Path, seconds: int, connections: int, threads: int = 0) -> dict:
    """``wrk`` for ``seconds`` against a Jupyter server with the extension on ``db_url``: random 1° cones, the
    first page of 100 with the total (``benchmarks/rest_load.lua``); and ``/api/status`` of the same server."""
    import shutil
    import socket
    import subprocess

    import requests

    if shutil.which("wrk") is None:
        raise SystemExit("--wrk needs wrk (Debian package wrk)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = "vlass-bench-token"
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp / "jcfg"), "JUPYTER_RUNTIME_DIR": str(tmp / "jrt"),
           "VLASS_BENCH_TOKEN": token}
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root", f"--port={port}", "--ip=127.0.0.1",
         f"--IdentityProvider.token={token}", "--ServerApp.jpserver_extensions={'jupyter_vlass': True}",
         f"--VlassApp.db_url={db_url}", "--VlassApp.deadline=30", f"--VlassApp.worker_threads={threads}",
         f"--ServerApp.root_dir={tmp}"],
        env=env, stdout=subprocess.DEVNULL, stderr=open(tmp / "server.log", "w"))
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(f"{url}/vlass/api/datasets?region=10,10,1&limit=100", timeout=30,
                                headers={"Authorization": f"token {token}"}).ok:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit(f"the server did not start: {(tmp / 'server.log').read_text()[-2000:]}")
            time.sleep(0.5)
        out = {}
        for name, conns in (("search", connections), ("search_1conn", 1)):
            done = subprocess.run(["wrk", "-t2" if conns > 1 else "-t1", f"-c{conns}", f"-d{seconds}s", "--timeout", "10s",
                                   "-s", str(Path(__file__).with_name("rest_load.lua")), url],
                                  env=env, capture_output=True, text=True, check=True)
            out[name] = json.loads(done.stdout.split("WRK-JSON ", 1)[1].splitlines()[0])
            out[name]["connections"] = conns
        status = subprocess.run(["wrk", "-t2", f"-c{connections}", "-d10s", "-H", f"Authorization: token {token}",
                                 f"{url}/api/status"], capture_output=True, text=True, check=True).stdout
        out["api_status_rps"] = float(status.split("Requests/sec:")[1].split()[0])
        return out
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000, help="footprints in the registry")
    parser.add_argument("--queries", type=int, default=200, help="index queries per radius")
    parser.add_argument("--brute-queries", type=int, default=20, help="brute-force queries per radius")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--wrk", type=int, default=0, metavar="SECONDS",
                        help="also load the REST search with wrk for this long (random 1° cones, first page)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--threads", type=int, default=0, help="the server's worker_threads (0: its default)")
    parser.add_argument("--skip-queries", action="store_true", help="only build (and --wrk)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="vlass-bench-") as tmp:
        tmp = Path(tmp)
        registry = Registry(f"sqlite:///{tmp / 'bench.sqlite'}")
        built = build(registry, args.n, args.seed, tmp)
        ra, dec, radius, build_s = built["ra"], built["dec"], built["radius"], built["build_s"]
        (tmp / "catalogue.fits").unlink()
        with registry.engine.connect() as conn:  # the write-ahead log into the file, so that its size is all
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        db_mb = (tmp / "bench.sqlite").stat().st_size / 1e6
        footprint_cpu = footprint_cost(min(args.n, 100_000), args.seed)
        queries = shapes = fan = None
        if not args.skip_queries:
            queries = run_queries(registry, ra, dec, radius, args.queries, args.brute_queries, args.seed)
            shapes = run_shapes(registry, ra, dec, min(args.queries, 100), args.seed)
            fan = fan_out(tmp)
        rest = rest_load(f"sqlite:///{tmp / 'bench.sqlite'}", tmp, args.wrk, args.connections, args.threads) if args.wrk else None
    report = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
        "footprints": args.n, "build_s": build_s, "db_mb": db_mb, "bytes_per_row": db_mb * 1e6 / args.n,
        "catalogue_write_s": built["catalogue_write_s"], "catalogue_mb": built["catalogue_mb"],
        "footprint_cpu_us_per_row": footprint_cpu, "footprint_cpu_s_total": footprint_cpu * args.n / 1e6, "cone_queries": queries, "shape_queries_1deg": shapes,
        "fan_out": fan,
    }
    if queries:
        report.update(p95_ms_1deg=queries["1deg"]["index"]["p95_ms"], ratio_1deg=queries["1deg"]["speedup_p95"],
                      p95_ms_5deg=queries["5deg"]["first_page"]["p95_ms"])
    if rest:
        report.update(rest=rest, rest_rps=rest["search"]["rps"], rest_p99_ms=rest["search"]["p99_ms"])
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{args.n} footprints built in {build_s:.1f} s ({db_mb:.0f} MB)")
        if rest:
            for name in ("search", "search_1conn"):
                r = rest[name]
                print(f"REST {r['connections']} connections: {r['rps']:.1f} req/s, p50 {r['p50_ms']:.1f} ms, "
                      f"p99 {r['p99_ms']:.1f} ms, errors {r['errors']}")
            print(f"/api/status: {rest['api_status_rps']:.0f} req/s")
        if not queries:
            return
        for name, q in queries.items():
            print(f"radius {name}: index p50 {q['index']['p50_ms']:.2f} ms p95 {q['index']['p95_ms']:.2f} ms "
                  f"({q['mean_results']:.0f} results); brute force p50 {q['brute_force_astropy']['p50_ms']:.1f} ms "
                  f"-> {q['speedup_p50']:.0f}x faster (p95 {q['speedup_p95']:.0f}x)")
        print(f"1 deg box: range p50 {shapes['range']['p50_ms']:.2f} ms, polygon {shapes['polygon']['p50_ms']:.2f} ms, "
              f"cone {shapes['cone']['p50_ms']:.2f} ms")
        print(f"fan-out {fan['source_latencies_ms']} ms: total {fan['total_p50_ms']:.0f} ms "
              f"= {fan['total_over_slowest']:.2f}x slowest, {fan['total_over_sum']:.2f}x sum")


if __name__ == "__main__":
    main()
