"""The consensus document that the overlay (:mod:`jupyter_vlass.widgets.overlay`) and the static figure
(:mod:`.figure`) both draw: numbered detections with their votes, and what each run said at each one."""

from __future__ import annotations

import numpy as np

from .consensus import as_json
from .detections import match

NO_VOTES = {"confirmed": 0, "false_positive": 0, "unsure": 0}


def consensus_document(consensus) -> dict:
    """A consensus as the review keeps it (numbered detections with votes), from a
    :class:`~.consensus.Consensus` or that document itself."""
    if isinstance(consensus, dict):
        return consensus
    doc = as_json(consensus)
    return {"id": None, **doc, "detections": [{"detection": k, **d, "votes": dict(NO_VOTES)}
                                              for k, d in enumerate(doc["detections"])]}


def per_run(doc: dict, runs, radius_deg: float) -> dict[int, dict[str, tuple]]:
    """For each consensus detection, what each run said there: ``{number: {label: (kind, confidence, err)}}``."""
    found: dict[int, dict[str, tuple]] = {d["detection"]: {} for d in doc["detections"]}
    positions = {"ra": np.array([d["ra"] for d in doc["detections"]]),
                 "dec": np.array([d["dec"] for d in doc["detections"]])}
    for run in runs:
        if run.detections is None or not len(run.detections) or not len(positions["ra"]):
            continue
        ia, ib = match(positions, run.detections, radius_deg)
        for i, j in zip(ia, ib):
            row = run.detections[j]
            found[doc["detections"][i]["detection"]][run.label] = (str(row["kind"]), float(row["confidence"]),
                                                                   float(row["confidence_err"]))
    return found
