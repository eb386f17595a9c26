"""Discovery held by the hub service: a search through the service against the same search in-process, same run.

* A registry of ``--n`` footprints (default 10^6; ``region_query.py``'s sky of VLASS-sized boxes, built by the
  bulk path, SQLite) held by the service of a real JupyterHub (``hub_config/demo_config.py``, the proxy in
  front, as users reach it).
* ``inprocess``: ``Registry.search`` of 1-deg cones, first page of 100 with its total, in this process;
  ``service``: the same cones through ``GET /services/vlass/api/datasets`` with a user's token (the hub
  checks the token, the service searches for the caller's groups and sends JSON), one at a time.
  ``overhead_p95_ms`` is the difference of the two p95s, ``ratio_p50`` service / in-process.
* ``concurrent``: ``--users`` distinct hub users (default 50), each with their own token, searching at once
  (``--per-user`` searches each): errors, p50/p99 and requests per second.
* ``concurrent_2_processes``: the same load on a second hub whose service runs two processes on the same
  registry (``VLASS_SERVICE_PROCESSES=2``); ``rps_ratio_2_vs_1`` its requests per second over the first's.

Root (the hub starts as in the tests) and configurable-http-proxy are needed.

    python benchmarks/registry_service.py --n 1000000 --json
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jupyter_vlass.federation import Region, Registry  # noqa: E402
from tests.hub import own_hub  # noqa: E402

_spec = importlib.util.spec_from_file_location("region_query", ROOT / "benchmarks" / "region_query.py")
region_query = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(region_query)


def percentiles(samples: list[float]) -> dict:
    ordered = sorted(samples)
    pick = lambda q: 1000 * ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1)))]  # noqa: E731
    return {"p50_ms": 1000 * statistics.median(ordered), "p95_ms": pick(0.95), "p99_ms": pick(0.99),
            "n": len(ordered)}


def cones(n: int, seed: int) -> list[tuple[float, float]]:
    ra, dec = region_query.sky_positions(np.random.default_rng(seed), n)
    return list(zip(ra.tolist(), dec.tolist()))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--per-user", type=int, default=10)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--no-processes", dest="processes_too", action="store_false",
                        help="skip the second hub, whose service runs two processes")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="vlass-bench-service-") as tmp:
        tmp = Path(tmp)
        url = f"sqlite:///{tmp / 'registry.sqlite'}"
        registry = Registry(url, groups=())
        built = region_query.build(registry, args.n, args.seed, tmp)
        targets = cones(args.queries, args.seed + 1)
        registry.search(Region.from_degrees(*targets[0], 1.0), limit=100)  # warm: the index orders read once
        inprocess, totals = [], []
        for ra, dec in targets:
            t0 = time.perf_counter()
            result = registry.search(Region.from_degrees(ra, dec, 1.0), limit=100)
            inprocess.append(time.perf_counter() - t0)
            totals.append(result.total)
        registry.close()
        registry.engine.dispose()

        users = [f"bench-{k:02d}" for k in range(args.users)]
        load = cones(args.users * args.per_user, args.seed + 2)
        jobs = [(users[k % args.users], *load[k]) for k in range(len(load))]

        def through_hub(processes: int, sequential: bool):
            """(one-at-a-time latencies, matched totals, concurrent answers, wall) through a hub whose service
            runs ``processes`` processes."""
            with own_hub(tmp / f"hub-{processes}", VLASS_REGISTRY_DB=url, VLASS_SAMPLE="",
                         VLASS_SERVICE_PROCESSES=str(processes)) as hub:
                tokens = {}
                for name in users:
                    hub.user(name, allocation=None)
                    tokens[name] = hub.token_for(name)
                session = requests.Session()
                session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=args.users))
                endpoint = f"{hub.url}/services/vlass/api/datasets"

                def search(name: str, ra: float, dec: float) -> tuple[float, int, int | None]:
                    t0 = time.perf_counter()
                    answer = session.get(endpoint, params={"region": f"{ra!r},{dec!r},1.0", "limit": "100"},
                                         headers={"Authorization": f"token {tokens[name]}"}, timeout=60)
                    elapsed = time.perf_counter() - t0
                    return elapsed, answer.status_code, answer.json().get("total") if answer.ok else None

                for name in users:  # warm: each process's index orders, the hub's token cache for every user
                    search(name, *targets[0])
                latencies, matched = [], 0
                for (ra, dec), total in zip(targets if sequential else [], totals):
                    elapsed, status, found = search(users[0], ra, dec)
                    latencies.append(elapsed)
                    matched += status == 200 and found == total
                t0 = time.perf_counter()
                with ThreadPoolExecutor(args.users) as pool:
                    answers = list(pool.map(lambda job: search(*job), jobs))
                return latencies, matched, answers, time.perf_counter() - t0

        service, matched, answers, wall = through_hub(1, True)
        _, _, answers_2, wall_2 = through_hub(2, False) if args.processes_too else (None, None, [], None)

    inproc, through = percentiles(inprocess), percentiles(service)

    def concurrent(answers: list, wall: float) -> dict:
        ok = [a[0] for a in answers if a[1] == 200]
        return {"users": args.users, "requests": len(answers), "errors": len(answers) - len(ok),
                **(percentiles(ok) if ok else {}), "rps": len(answers) / wall}
    figures = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": platform.platform(),
        "cpus": __import__("os").cpu_count(), "n": args.n, "build_s": round(built["build_s"], 1),
        "inprocess": inproc, "service": through, "same_totals": f"{matched}/{len(targets)}",
        "overhead_p95_ms": through["p95_ms"] - inproc["p95_ms"],
        "ratio_p50": through["p50_ms"] / inproc["p50_ms"],
        "concurrent": concurrent(answers, wall),
    }
    if answers_2:
        figures["concurrent_2_processes"] = concurrent(answers_2, wall_2)
        figures["rps_ratio_2_vs_1"] = figures["concurrent_2_processes"]["rps"] / figures["concurrent"]["rps"]
    if args.json:
        print(json.dumps(figures, indent=1))
    else:
        for key, value in figures.items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
