"""The consensus as the hub service computes it: from the detection tables of the caller's own jobs that it
authorized (or that the result cache answered from such a job), read from the bytes whose sha256 it recorded
when the jobs ended, never from a document a client wrote.

A client names the runs it aggregated (``model@site``) and the aggregation's parameters; for each, the
service takes the caller's newest ended job on that dataset version at that site with that model. A run
that failed is named with the reason its job ended with.
"""

from __future__ import annotations

import io
import math

from ..exceptions import InvalidArgument
from ..jobs.job_records import CLASS_MAP, DETECTION_TABLE, JobRecords, RecordedJob, UnrecordedOutput
from ..models.consensus import Consensus, Run, aggregate
from ..models.pixels import read_classes

LIMITS = {"radius_deg": (1e-6, 0.1), "lower_bound": (0.0, 1.0), "sigmas": (0.0, 10.0), "publish_score": (0.0, 1.0)}
MAX_RUNS = 20


class NoRecordedRun(UnrecordedOutput):
    reason = "no_recorded_run"


def checked_parameters(value: object) -> dict:
    """``aggregate``'s keyword arguments from a client's ``parameters``, each within its bounds."""
    if not isinstance(value, dict) or set(value) - set(LIMITS) or "radius_deg" not in value:
        raise InvalidArgument(f"parameters: an object with radius_deg and at most {', '.join(LIMITS)}")
    checked = {}
    for name, number in value.items():
        low, high = LIMITS[name]
        if isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number) \
                or not low <= number <= high:
            raise InvalidArgument(f"parameters.{name}: a number from {low} to {high}")
        checked[name] = float(number)
    return checked


def _labels(value: object) -> list[tuple[str, str]]:
    if not isinstance(value, list) or not 0 < len(value) <= MAX_RUNS or \
            not all(isinstance(v, str) and v.count("@") == 1 and 2 < len(v) <= 200 for v in value):
        raise InvalidArgument(f"runs: 1 to {MAX_RUNS} runs, each 'model@site'")
    return [tuple(v.split("@")) for v in dict.fromkeys(value)]


def _table(records: JobRecords, job: RecordedJob, dataset_id: str):
    from astropy.table import Table

    digest = next((d for name, d in job.outputs.items() if name.rsplit("/", 1)[-1] == DETECTION_TABLE), None)
    if digest is None:
        return None, None
    table = Table.read(io.BytesIO(records.evidence(digest)), format="ascii.ecsv")
    if "dataset" in table.colnames:
        table = table[[str(d) == dataset_id for d in table["dataset"]]]
    classes = next((d for name, d in job.outputs.items() if name.rsplit("/", 1)[-1] == CLASS_MAP), None)
    if classes is not None:
        classes = read_classes(io.BytesIO(records.evidence(classes))).get(dataset_id)
    return table, classes


def _model(records: JobRecords, job: RecordedJob, dataset_id: str) -> tuple[str | None, tuple]:
    table, classes = _table(records, job, dataset_id) if job.state == "done" else (None, None)
    model = (table.meta.get("model") if table is not None else None) or job.parameters.get("model")
    return (str(model) if model is not None else None), (table, classes)


def compute(records: JobRecords, *, user: str, dataset_id: str, version: str, runs: object,
            parameters: object) -> Consensus:
    """The consensus of ``user``'s recorded runs ``runs`` (``["model@site", ...]``) on ``dataset_id@version``."""
    wanted, options = _labels(runs), checked_parameters(parameters)
    found: dict[tuple[str, str], Run] = {}
    jobs: dict[str, RecordedJob] = {}
    for job in records.latest(user=user, dataset_id=dataset_id, version=version):
        if not any(site == job.site for _, site in wanted):
            continue
        model, (table, classes) = _model(records, job, dataset_id)
        key = (model, job.site)
        if key not in wanted or key in found:
            continue
        jobs[f"{model}@{job.site}"] = job
        if table is not None:
            found[key] = Run(model, str(table.meta.get("version", "?")), job.site, table, classes=classes)
        else:
            found[key] = Run(model, "?", job.site, None, error=job.reason or job.state)
    missing = [f"{m}@{s}" for m, s in wanted if (m, s) not in found]
    if missing:
        raise NoRecordedRun(f"no ended job of yours on {dataset_id[:200]}@{version[:60]} is recorded at the hub "
                            f"service for {', '.join(missing)}")
    consensus = aggregate([found[k] for k in wanted], **options)
    for run in consensus.runs + consensus.failed:  # which recorded job, and which bytes, each run is
        job = jobs[run["run"]]
        run["job"] = job.job_id
        run["outputs"] = {n: d for n, d in job.outputs.items() if n.rsplit("/", 1)[-1] in (DETECTION_TABLE, CLASS_MAP)}
    return consensus
