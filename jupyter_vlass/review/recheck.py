"""Post-publication audit: a published detection analysis looked at again with a newer model or dataset
version, and marked when contradicted.

The published result is the capsule's ``detections.ecsv``; the newer run is a registry model on the
capsule's image (or a newer version of it). Of the sources the capsule published (kind ``source``,
confidence at least 0.5), those the newer run does not find as sources are **lost**; confident newer
sources the capsule lacks are **new**. No change: confirmed, nothing marked. Half or more lost:
**Retracted**. Otherwise: **Updated**. A mark goes on the capsule and on every capsule derived from it (its
replays and forks, through their parent links), each pointing back, in the hub-wide audit trail.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from ..exceptions import InvalidArgument
from ..models.detections import match
from ..models.images import open_image
from ..reproducibility.crate import GATED_OUTPUT, is_detection_analysis


def _sources(table, least: float):
    if not len(table):
        return table
    return table[(table["kind"] == "source") & (table["confidence"] >= least)]


def reevaluate(published, newer, *, radius_deg: float, least: float = 0.5) -> dict:
    """``{verdict, mark, kept, lost, new, explanation}`` comparing two detection tables."""
    old, now = _sources(published, least), _sources(newer, least)
    kept, _ = match(old, now, radius_deg)
    _, seen = match(now, old, radius_deg)
    lost, new = len(old) - len(kept), len(now) - len(seen)
    if lost == 0 and new == 0:
        verdict = "confirmed"
    else:
        verdict = "Retracted" if len(old) and lost / len(old) >= 0.5 else "Updated"
    who = f"{newer.meta.get('model', 'a newer model')} {newer.meta.get('version', '')}".strip()
    explanation = (f"{who} confirms {len(kept)} of the {len(old)} published sources; {lost} not found, "
                   f"{new} new")
    return {"verdict": verdict, "mark": None if verdict == "confirmed" else verdict, "kept": len(kept),
            "lost": lost, "new": new, "explanation": explanation}


def derived_capsules(store, capsule_id: str) -> list[str]:
    """Capsules whose lineage leads back to ``capsule_id`` (replays and forks of it, and theirs)."""
    children: dict[str, list[str]] = {}
    for analysis in store.list():
        if analysis["parent"]:
            children.setdefault(analysis["parent"], []).append(analysis["id"])
    found, todo = [], list(children.get(capsule_id, []))
    while todo:
        child = todo.pop(0)
        if child not in found:
            found.append(child)
            todo.extend(children.get(child, []))
    return found


def local_copy(registry, record, folder: Path) -> Path:
    """A file path of ``record`` (its own when local, else a copy in ``folder``)."""
    path = Path(record.uri.removeprefix("file://"))
    if path.is_file():
        return path
    target = folder / Path(record.uri).name
    with registry.open(record) as source, open(target, "wb") as out:
        out.write(source.read())
    return target


def recheck(capsule_id: str, *, store, registry, detector, review, by: str, radius_deg: float,
            dataset: tuple[str, str] | None = None) -> dict:
    """Run ``detector`` on the capsule's image (``dataset`` ``(id, version)`` for a newer one) and mark the
    capsule and what derives from it when the result is contradicted; the report."""
    from astropy.table import Table

    analysis = store.show(capsule_id)
    if not is_detection_analysis(analysis["outputs"]):
        raise InvalidArgument(f"capsule {capsule_id[:16]} is not a detection analysis (no {GATED_OUTPUT})")
    published = Table.read(store.path(capsule_id) / "outputs" / GATED_OUTPUT)
    pins = analysis["inputs"]
    if dataset is None:
        if not pins:
            raise InvalidArgument(f"capsule {capsule_id[:16]} pinned no image: name one with --dataset")
        dataset = (pins[0]["id"], pins[0]["version"])
    record = registry.get(*dataset)
    with tempfile.TemporaryDirectory(prefix="vlass-recheck-") as folder:
        newer = detector.detect(open_image(local_copy(registry, record, Path(folder))))
    if "dataset" in published.colnames:
        published = published[published["dataset"] == pins[0]["id"]] if pins else published
    report = {"capsule": capsule_id, "dataset": f"{record.dataset_id}@{record.version}",
              **reevaluate(published, newer, radius_deg=radius_deg)}
    report["explanation"] = f"re-evaluated on {report['dataset']}: {report['explanation']}"
    if report["mark"]:
        derived = [f"capsule:{c}" for c in derived_capsules(store, capsule_id)]
        review.mark(subject=f"capsule:{capsule_id}", mark=report["mark"], explanation=report["explanation"],
                    by=by, derived=derived)
        report["marked"] = [f"capsule:{capsule_id}", *derived]
    return report
