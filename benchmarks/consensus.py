"""Detection models and their consensus on a full-size (3722²) VLASS-like tile whose truth is known.

The tile: real RACS component positions and fluxes rendered in a 2.5" beam with 120 µJy noise, rings and
stripes injected around the brightest sources at known positions (``jupyter_vlass.models.synthetic``).

* per model: inference time on this machine's CPU (``inference_s``: its detections and its class map), and
  precision/recall of its sources and artefacts against the injected truth; ``pixel_recall``: the share of
  the injected sources' and lobes' pixels its class map calls what they are;
* ``aggregation_s``: the consensus of the models' outputs, detections and class maps (median of
  ``--rounds``); goal <= 1 s; ``pixel_aggregation_s`` the per-pixel part alone; ``aggregation_peak_tiles``
  its peak memory beyond the class maps it is given;
* ``gate``: recording that consensus hub-wide and the publish gate's decision on it (times, score);
* ``peak_memory_tiles``: the peak of memory allocated while a model reads and analyses the tile
  (tracemalloc, which sees numpy's buffers), in units of the tile's own size (3722² float32); goal <= 3;
* precision/recall of the consensus's high-confidence selection; the site discrepancy of one model run
  twice (as two sites would);
* ``mosaic`` (with ``--mosaic``): three such tiles, overlapping, co-added into one image on disk
  (``jupyter_vlass.models.mosaic``) and analysed by the classical detector: times, and peak memory in tiles.

    python benchmarks/consensus.py --json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jupyter_vlass.models.classical import ClassicalDetector  # noqa: E402
from jupyter_vlass.models.consensus import Run, aggregate  # noqa: E402
from jupyter_vlass.models.detections import score  # noqa: E402
from jupyter_vlass.models.images import open_image  # noqa: E402
from jupyter_vlass.models.pixels import pixel_agreement, pixel_counts  # noqa: E402
from jupyter_vlass.models.synthetic import make_tile, write_tile  # noqa: E402
from jupyter_vlass.sample_data import fetch_real_files  # noqa: E402

BEAM_DEG = 2.5 / 3600


def models() -> dict[str, object]:
    """The models compared: every installed one that runs here (the CNN needs the torch extra)."""
    found = {"classical": ClassicalDetector(), "classical-7sigma": ClassicalDetector(threshold=7.0)}
    try:
        from jupyter_vlass.models.cnn import CnnDetector

        found["cnn"] = CnnDetector.packaged()
    except ImportError:
        pass
    return found


def gate_figures(consensus, rounds: int) -> dict:
    """Recording the consensus hub-wide (SQLite) and the publish gate's decision on it: times and the score."""
    from jupyter_vlass.review.review import Review
    from jupyter_vlass.store import make_engine, session_factory

    folder = Path(tempfile.mkdtemp(prefix="vlass-gate-"))
    review = Review(session_factory(make_engine(f"sqlite:///{folder / 'hub.sqlite'}")), threshold=0.8)
    record_s, gate_s = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        review.record(dataset_id="vlass:bench-tile", version="v1", user="bench", consensus=consensus)
        record_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        decision = review.gate("vlass:bench-tile", "v1")
        gate_s.append(time.perf_counter() - started)
    return {"record_s": round(statistics.median(record_s), 4), "gate_s": round(statistics.median(gate_s), 4),
            "score": decision.score, "passed": decision.passed, "reasons": decision.reasons}


def mosaic_figures(real, pixels: int) -> dict:
    """Three overlapping tiles co-added and analysed: seconds and peak memory (in tiles) of each step."""
    from jupyter_vlass.models.mosaic import mosaic

    folder = Path(tempfile.mkdtemp(prefix="vlass-mosaic-"))
    step = 0.8 * pixels / 3600  # degrees: neighbours overlap by a fifth
    paths = []
    for k, (dra, ddec) in enumerate(((0, 0), (step / 0.951, 0), (0, step))):
        image, header, _, _ = make_tile(real["racs_components"], ra=209.25 + dra, dec=-18.0 + ddec, pixels=pixels,
                                        seed=30 + k)
        paths.append(folder / f"tile{k}.fits")
        write_tile(paths[-1], image, header)
    tile_bytes = pixels * pixels * 4
    found = {}
    for step_name, work in (("mosaic", lambda: mosaic(paths, folder / "mosaic.fits")),
                            ("classical", lambda: ClassicalDetector().analyse(open_image(folder / "mosaic.fits")))):
        tracemalloc.start()
        started = time.perf_counter()
        result = work()
        if step_name == "classical":
            result = (result[0], result[1].compute())
        found[f"{step_name}_s"] = round(time.perf_counter() - started, 2)
        found[f"{step_name}_peak_memory_tiles"] = round(tracemalloc.get_traced_memory()[1] / tile_bytes, 2)
        tracemalloc.stop()
        if step_name == "mosaic":
            found["shape"] = list(result.shape)
        else:
            found["detections"] = len(result[0])
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pixels", type=int, default=3722)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cache", default=str(Path(__file__).resolve().parents[1] / "data" / "cache"))
    parser.add_argument("--mosaic", action="store_true", help="also co-add and analyse a mosaic of three tiles")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    real = fetch_real_files(args.cache)
    image, header, truth, mask = make_tile(real["racs_components"], ra=209.25, dec=-18.0, pixels=args.pixels, seed=7)
    path = Path(tempfile.mkdtemp(prefix="vlass-consensus-")) / "tile.fits"
    write_tile(path, image, header)
    tile_bytes = image.nbytes
    del image

    results, outputs, peak = {}, {}, 0
    compared = models()
    for name, model in compared.items():
        started = time.perf_counter()
        found, classes = model.analyse(open_image(path))
        classes = classes.compute()  # as a job writes it
        elapsed = time.perf_counter() - started
        tracemalloc.start()  # a second run, traced (tracing slows it down)
        model.analyse(open_image(path))[1].compute()
        model_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        peak = max(peak, model_peak)
        outputs[name] = found, classes
        results[name] = {"inference_s": round(elapsed, 3), "detections": len(found),
                         "peak_memory_tiles": round(model_peak / tile_bytes, 2),
                         **{f"{kind}_{k}": v for kind in ("source", "artefact")
                            for k, v in score(found, truth, radius_deg=BEAM_DEG, kind=kind).items()
                            if k in ("precision", "recall")},
                         "pixel_recall": {kind: round(float(((classes.values == code) & (mask == code)).sum()
                                                            / max(1, (mask == code).sum())), 3)
                                          for kind, code in (("source", 1), ("artefact", 2))}}
        results[name]["precision"], results[name]["recall"] = (results[name]["source_precision"],
                                                                 results[name]["source_recall"])
    runs = [Run(name, compared[name].version, "local", table, classes=classes)
            for name, (table, classes) in outputs.items()]
    times, pixel_times = [], []
    for _ in range(args.rounds):
        started = time.perf_counter()
        consensus = aggregate(runs, radius_deg=BEAM_DEG)
        times.append(time.perf_counter() - started)
        started = time.perf_counter()
        pixel_counts(pixel_agreement([r.classes for r in runs]))
        pixel_times.append(time.perf_counter() - started)
    tracemalloc.start()
    aggregate(runs, radius_deg=BEAM_DEG)
    aggregation_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    chosen = consensus.table[consensus.table["high_confidence"]]
    chosen["kind"] = "source"
    twice = aggregate([Run("classical", "1.0.0", "local", outputs["classical"][0]),
                       Run("classical", "1.0.0", "slurm", ClassicalDetector().detect(open_image(path, chunks=512)))],
                      radius_deg=BEAM_DEG)
    doc = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": platform.machine(),
           "pixels": args.pixels, "truth": {"sources": int((truth["kind"] == "source").sum()),
                                            "artefacts": int((truth["kind"] == "artefact").sum())},
           "models": results, "aggregation_s": round(statistics.median(times), 4),
           "pixel_aggregation_s": round(statistics.median(pixel_times), 4),
           "aggregation_peak_tiles": round(aggregation_peak / tile_bytes, 2),
           "peak_memory_tiles": round(peak / tile_bytes, 2),
           "consensus": {**consensus.summary(), "runs": len(runs),
                         **{k: v for k, v in score(chosen, truth, radius_deg=BEAM_DEG).items()
                            if k in ("precision", "recall", "detected")}},
           "site_discrepancy": twice.site_discrepancy, "gate": gate_figures(consensus, args.rounds)}
    doc["consensus"].pop("site_discrepancy", None)
    if args.mosaic:
        doc["mosaic"] = mosaic_figures(real, args.pixels)
    print(json.dumps(doc, indent=1) if args.json else doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
