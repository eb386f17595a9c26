"""Consensus of several detection runs (models, and the same model at several sites) on one image.

Detections of every run are grouped on the sky (friends of friends within ``radius``). For each group:

* **agreement**: ``agree`` when every run that finished saw it and called it the same kind, ``conflict``
  when some did not see it or called it another kind, ``single`` when only one run finished;
* **score**: the mean over the finished runs of each run's probability that it is a real source (its
  ``confidence`` for a ``source``, 1 − confidence for an ``artefact``, 0 when it saw nothing there), with
  its uncertainty (the runs' own uncertainties and their spread, combined);
* **high confidence**: agree, and the lower end of the score's interval, score − ``sigmas`` × uncertainty,
  at least ``lower_bound`` (more likely real than not even when the runs are least sure).

A run that failed (crashed, timed out) is named with its reason and left out; the others still count.
The **site discrepancy** is, for a model run at two sites, the fraction of the detections either site
reports with high confidence that the two do not report alike (one misses it, or their fluxes differ by
more than 3σ); the spec asks for less than 5 %.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .detections import match
from .pixels import pixel_agreement, pixel_counts


@dataclass
class Run:
    model: str
    version: str
    site: str
    detections: object | None = None  # a detection table; None when the run failed
    error: str | None = None
    classes: object | None = None  # its class map (:mod:`.pixels`), when it made one

    @property
    def label(self) -> str:
        return f"{self.model}@{self.site}"


@dataclass
class Consensus:
    table: object  # one row per group: ra, dec, agreement, score, score_err, kinds, seen_by, high_confidence
    runs: list[dict] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)
    site_discrepancy: dict = field(default_factory=dict)
    pixels: object | None = None  # the per-pixel agreement map (:func:`.pixels.pixel_agreement`), lazy
    pixel_summary: dict | None = None  # its counts, and the runs whose class maps it compares
    parameters: dict = field(default_factory=dict)  # aggregate's radius_deg, lower_bound, sigmas, publish_score

    def summary(self) -> dict:
        t = self.table
        counts = {k: int((t["agreement"] == k).sum()) for k in ("agree", "conflict", "single")}
        found = {"detections": len(t), **counts, "high_confidence": int(t["high_confidence"].sum()),
                 "runs": self.runs, "failed": self.failed, "site_discrepancy": self.site_discrepancy,
                 "parameters": self.parameters}
        if self.pixel_summary is not None:
            found["pixels"] = self.pixel_summary
        return found


def _groups(positions: np.ndarray, radius_deg: float) -> np.ndarray:
    """Friends-of-friends group labels of (ra, dec) rows."""
    import astropy.units as u
    from astropy.coordinates import SkyCoord
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    coords = SkyCoord(positions[:, 0] * u.deg, positions[:, 1] * u.deg)
    i, j, _, _ = coords.search_around_sky(coords, radius_deg * u.deg)
    graph = coo_matrix((np.ones(len(i)), (i, j)), shape=(len(coords),) * 2)
    return connected_components(graph, directed=False)[1]


def aggregate(runs: list[Run], *, radius_deg: float, lower_bound: float = 0.5, sigmas: float = 2.0,
              publish_score: float = 0.9) -> Consensus:
    """The consensus of ``runs``; ``publish_score``: the confidence above which a site's detection counts
    in the site discrepancy."""
    from astropy.table import Table

    parameters = {"radius_deg": radius_deg, "lower_bound": lower_bound, "sigmas": sigmas, "publish_score": publish_score}
    done = [r for r in runs if r.detections is not None and r.error is None]
    failed = [{"run": r.label, "model": r.model, "site": r.site, "reason": r.error or "no detections returned"}
              for r in runs if r not in done]
    rows = [(k, float(d["ra"]), float(d["dec"]), str(d["kind"]), float(d["confidence"]), float(d["confidence_err"]),
             float(d["flux"]), float(d["flux_err"])) for k, r in enumerate(done) for d in r.detections]
    names = ("ra", "dec", "agreement", "score", "score_err", "seen_by", "kinds", "high_confidence")
    if not rows:
        return Consensus(Table(names=names, dtype=(float, float, "U8", float, float, "U200", "U200", bool)),
                         [vars_of(r) for r in done], failed, {}, *_pixels(done), parameters)
    run_of = np.array([r[0] for r in rows])
    positions = np.array([[r[1], r[2]] for r in rows])
    labels = _groups(positions, radius_deg)
    n = len(done)
    out = []
    order = np.argsort(labels, kind="stable")
    for members in np.split(order, np.flatnonzero(np.diff(labels[order])) + 1):
        best = {}  # per run, its most confident member of the group
        for m in members:
            if run_of[m] not in best or rows[m][4] > rows[best[run_of[m]]][4]:
                best[run_of[m]] = m
        p, p_err = np.zeros(n), np.zeros(n)
        kinds = {}
        for k, m in best.items():
            kind, conf, err = rows[m][3], rows[m][4], rows[m][5]
            p[k], p_err[k] = (conf if kind == "source" else 1 - conf), err
            kinds[done[k].label] = kind
        agreement = "single" if n == 1 else ("agree" if len(best) == n and len(set(kinds.values())) == 1 else "conflict")
        score = float(p.mean())
        spread = float(p.std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0
        score_err = float(np.hypot(np.sqrt((p_err ** 2).sum()) / n, spread))
        ra, dec = positions[members].mean(axis=0)
        out.append((ra, dec, agreement, score, score_err, ",".join(sorted(kinds)),
                    ",".join(f"{k}:{v}" for k, v in sorted(kinds.items())),
                    agreement == "agree" and score - sigmas * score_err >= lower_bound))
    table = Table(rows=out, names=names, dtype=(float, float, "U8", float, float, "U200", "U200", bool))
    table["ra"].unit = table["dec"].unit = "deg"
    return Consensus(table, [vars_of(r) for r in done], failed, site_discrepancy(done, radius_deg, publish_score),
                     *_pixels(done), parameters)


def _pixels(done: list[Run]) -> tuple:
    """The per-pixel agreement of the finished runs that made a class map, and its summary."""
    painted = [r for r in done if r.classes is not None]
    if not painted:
        return None, None
    agreement = pixel_agreement([r.classes for r in painted])
    return agreement, {"runs": [r.label for r in painted], **pixel_counts(agreement)}


def as_json(consensus: Consensus) -> dict:
    """``{summary, detections}`` of a consensus, as the hub service and the REST API carry it."""
    def plain(value):
        return value.item() if hasattr(value, "item") else value

    names = consensus.table.colnames
    return {"summary": consensus.summary(),
            "detections": [{k: plain(row[k]) for k in names} for row in consensus.table]}


def vars_of(run: Run) -> dict:
    return {"run": run.label, "model": run.model, "version": run.version, "site": run.site,
            "detections": len(run.detections)}


def site_discrepancy(runs: list[Run], radius_deg: float, publish_score: float) -> dict:
    """Per model run at two sites: of the detections either site reports with confidence ≥ ``publish_score``,
    the fraction the two do not report alike (one misses it, or their fluxes differ by more than 3σ)."""

    found = {}
    by_model: dict[str, list[Run]] = {}
    for r in runs:
        by_model.setdefault(r.model, []).append(r)
    for model, same in by_model.items():
        if len(same) < 2:
            continue
        a, b = (r.detections[r.detections["confidence"] >= publish_score] if len(r.detections) else r.detections
                for r in same[:2])
        ia, ib = match(a, b, radius_deg)
        fluxes = [abs(a["flux"][i] - b["flux"][j]) > 3 * np.hypot(a["flux_err"][i], b["flux_err"][j])
                  for i, j in zip(ia, ib)]
        compared = len(a) + len(b) - len(ia)
        differ = (len(a) - len(ia)) + (len(b) - len(ib)) + int(sum(fluxes))
        found[model] = {"sites": [same[0].site, same[1].site], "compared": compared, "discrepant": differ,
                        "fraction": round(differ / compared, 4) if compared else 0.0}
    return found
