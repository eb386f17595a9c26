"""Region search on PostgreSQL beside SQLite, and the project's HEALPix index beside Q3C, on the same data.

* The same ``--n`` footprints as ``region_query.py`` (same generator and seed) built into an SQLite file and
  into a PostgreSQL 15 server of the benchmark's own (started and removed here; ``fsync=off`` as in the
  tests), each through the registry's tables; build times and sizes.
* ``Registry.search`` at 1° and 5° on both stores, same cones, same run: p50/p95, full and first page of
  100 with the total; PostgreSQL's p95 over SQLite's. On PostgreSQL twice: through Q3C (what the registry
  uses when migration 0007 found the extension) and through the HEALPix cell index.
* Q3C (Debian ``postgresql-15-q3c``, the index large survey archives use) beside the project's HEALPix cell
  index on the same PostgreSQL table: the candidate read alone (the statement that finds the footprints whose
  bounding circle may touch the cone), ``q3c_radial_query`` on the footprint centres with the cone's radius
  plus the largest footprint radius, checked to give the same hits after the exact measurement.

    python benchmarks/region_postgres.py --n 1000000 --json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from jupyter_vlass.federation import Region, Registry  # noqa: E402
from jupyter_vlass.federation import index_query  # noqa: E402
from jupyter_vlass.federation.index import CoverageMeter  # noqa: E402
from region_query import DEC_MIN, build, percentiles, sky_positions  # noqa: E402
from tests.services import running_postgres  # noqa: E402

COLUMNS = ", ".join(index_query.CANDIDATE_COLUMNS)


def timed_searches(registry: Registry, cones) -> dict:
    full, page = [], []
    for region in cones:
        t0 = time.perf_counter()
        registry.search(region, deadline=60)
        full.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        registry.search(region, deadline=60, limit=100)
        page.append(time.perf_counter() - t0)
    return {"full": percentiles(full), "first_page": percentiles(page)}


def candidates_side_by_side(registry: Registry, cones) -> dict:
    """The candidate read through the HEALPix cell index and through Q3C, same table, same cones."""
    orders = registry.index_orders()
    pad = max(orders.values())
    q3c = text(f"SELECT {COLUMNS} FROM datasets WHERE q3c_radial_query(s_ra, s_dec, :ra, :dec, :radius) "
               "AND withdrawn_at IS NULL AND access_tier = 'public'")
    times = {"healpix": [], "q3c": []}
    rows = {"healpix": 0, "q3c": 0}
    with registry.engine.connect() as conn:
        for region in cones:
            t0 = time.perf_counter()
            ours = index_query.candidates(conn, region, orders, public_only=["bench"], granted=[])
            times["healpix"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            theirs = conn.execute(q3c, {"ra": region.ra_deg, "dec": region.dec_deg,
                                        "radius": region.radius_deg + pad}).all()
            times["q3c"].append(time.perf_counter() - t0)
            rows["healpix"] += len(ours)
            rows["q3c"] += len(theirs)
            meter = CoverageMeter(region)
            a = {r.dataset_id for r in index_query.index_matches(ours, region, meter)[0]}
            b = {r.dataset_id for r in index_query.index_matches(theirs, region, meter)[0]}
            assert a == b, f"HEALPix and Q3C candidates give different hits at {region}"
    stats = {name: percentiles(t) for name, t in times.items()}
    return {**stats, "mean_candidates": {k: v / len(cones) for k, v in rows.items()},
            "q3c_over_healpix_p50": stats["q3c"]["p50_ms"] / stats["healpix"]["p50_ms"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    report = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
              "footprints": args.n}
    rng = np.random.default_rng(args.seed + 1)
    with tempfile.TemporaryDirectory(prefix="vlass-bench-pg-") as tmp, \
            running_postgres("-c shared_buffers=1GB -c work_mem=64MB") as server:
        admin = create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE bench"))
        stores = {"sqlite": Registry(f"sqlite:///{Path(tmp) / 'bench.sqlite'}"),
                  "postgresql": Registry(server.rsplit("/", 1)[0] + "/bench")}
        for name, registry in stores.items():
            report[f"build_s_{name}"] = build(registry, args.n, args.seed, Path(tmp))["build_s"]
        # The same PostgreSQL table read through the HEALPix cell index instead of Q3C.
        stores["postgresql_healpix"] = Registry(stores["postgresql"].engine)
        stores["postgresql_healpix"]._shared["q3c"] = False
        with stores["postgresql"].engine.connect() as conn:
            conn.execute(text("ANALYZE datasets"))
            conn.commit()
            report["db_mb_postgresql"] = conn.execute(text("SELECT pg_database_size('bench')")).scalar() / 1e6
        report["db_mb_sqlite"] = (Path(tmp) / "bench.sqlite").stat().st_size / 1e6
        for radius in (1.0, 5.0):
            qra, qdec = sky_positions(rng, args.queries)
            cones = [Region.from_degrees(a, min(max(d, DEC_MIN + radius), 89.0), radius) for a, d in zip(qra, qdec)]
            for registry in stores.values():  # warm both: the caches and the index orders
                registry.search(cones[0], deadline=60)
            side = {name: timed_searches(registry, cones) for name, registry in stores.items()}
            for name in ("postgresql", "postgresql_healpix"):
                side[f"{name}_over_sqlite_p95"] = side[name]["first_page"]["p95_ms"] / side["sqlite"]["first_page"]["p95_ms"]
            report[f"search_{radius:g}deg"] = side
        pg = stores["postgresql"]
        with pg.engine.connect() as conn:
            if not index_query.has_q3c_index(conn):
                raise SystemExit("no Q3C index: install postgresql-15-q3c (migration 0007 adds the index)")
        for radius in (1.0, 5.0):
            qra, qdec = sky_positions(rng, args.queries)
            cones = [Region.from_degrees(a, min(max(d, DEC_MIN + radius), 89.0), radius) for a, d in zip(qra, qdec)]
            report[f"candidates_{radius:g}deg"] = candidates_side_by_side(pg, cones)
        for name in ("sqlite", "postgresql"):
            stores[name].engine.dispose()
        admin.dispose()
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for key, value in report.items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
