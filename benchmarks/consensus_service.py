"""What computing the consensus at the hub service costs, against recording one a client computed, same run.

Two detection tables of one VLASS-like tile (real RACS components rendered in a 2.5" beam, artefacts injected;
``--pixels`` on a side), from the classical detector at 5 and 7 sigma, as their jobs wrote them (ECSV).

* ``client_record_s``: the client aggregates and the store records its document (what a hub accepted before);
* ``service_record_s``: the service reads both tables from its evidence store (the bytes it checked against
  their sha256 when the jobs ended), parses them, aggregates and records (``Review.record_runs``);
* ``report_s``: recording one ended job with its table (sha256 checked), what each job's end now adds;
* ``ratio``: service / client. Medians of ``--rounds``, on SQLite (the demo hub's database).

    python benchmarks/consensus_service.py --json
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import platform
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from astropy.table import Table  # noqa: E402

from jupyter_vlass.models.classical import ClassicalDetector  # noqa: E402
from jupyter_vlass.models.consensus import Run, aggregate  # noqa: E402
from jupyter_vlass.models.images import open_image  # noqa: E402
from jupyter_vlass.models.synthetic import make_tile, write_tile  # noqa: E402
from jupyter_vlass.review.review import Review  # noqa: E402
from jupyter_vlass.sample_data import fetch_real_files  # noqa: E402
from jupyter_vlass.store import make_engine, session_factory  # noqa: E402

BEAM_DEG = 2.5 / 3600
TILE, VERSION = "vlass:bench-tile", "v1"


def tables(pixels: int, folder: Path, cache: str) -> dict[str, bytes]:
    components = fetch_real_files(cache)["racs_components"]
    image, header, _, _ = make_tile(components, ra=209.25, dec=-18.0, pixels=pixels, seed=5)
    write_tile(folder / "tile.fits", image, header)
    tile = open_image(folder / "tile.fits")
    found = {}
    for model, threshold in (("classical", 5.0), ("classical-7sigma", 7.0)):
        table = ClassicalDetector(threshold=threshold).detect(tile)
        table["dataset"] = TILE
        table.meta = {"model": model, "version": "1.0.0"}
        out = io.StringIO()
        table.write(out, format="ascii.ecsv")
        found[model] = out.getvalue().encode()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pixels", type=int, default=2048)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--cache", default=str(Path(__file__).resolve().parents[1] / "data" / "cache"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data = tables(args.pixels, folder, args.cache)
        engine = make_engine(f"sqlite:///{folder / 'hub.sqlite'}")
        review = Review(session_factory(engine), threshold=0.8)
        reports = []
        for model, content in data.items():
            job = {"job_id": f"j{uuid.uuid4().hex[:16]}.1", "site": "local", "notebook": "detect-sources.ipynb",
                   "inputs": [[TILE, VERSION]], "parameters": {"model": model}}
            review.jobs.authorized(user="alice", project="alice", body=job)
            started = time.perf_counter()
            review.jobs.ended(user="alice", project="alice", body={
                **job, "state": "done", "outputs": {"detections.ecsv": hashlib.sha256(content).hexdigest()},
                "evidence": {"detections.ecsv": base64.b64encode(content).decode()}})
            reports.append(time.perf_counter() - started)
        client, service = [], []
        for _ in range(args.rounds):
            started = time.perf_counter()
            runs = [Run(m, "1.0.0", "local", Table.read(c.decode(), format="ascii.ecsv")) for m, c in data.items()]
            review.record(dataset_id=TILE, version=VERSION, user="alice", consensus=aggregate(runs, radius_deg=BEAM_DEG))
            client.append(time.perf_counter() - started)
            started = time.perf_counter()
            review.record_runs(dataset_id=TILE, version=VERSION, user="alice", runs=[f"{m}@local" for m in data],
                               parameters={"radius_deg": BEAM_DEG})
            service.append(time.perf_counter() - started)
        detections = len(review.latest(TILE, VERSION)["detections"])
        engine.dispose()
    result = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": platform.node(),
        "cpus": __import__("os").cpu_count(), "pixels": args.pixels, "rounds": args.rounds,
        "table_bytes": {m: len(c) for m, c in data.items()}, "consensus_detections": detections,
        "client_record_s": round(statistics.median(client), 4), "service_record_s": round(statistics.median(service), 4),
        "report_s": round(statistics.median(reports), 4),
        "ratio": round(statistics.median(service) / statistics.median(client), 3),
    }
    print(json.dumps(result, indent=None if args.json else 1))


if __name__ == "__main__":
    main()
