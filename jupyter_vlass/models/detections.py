"""What every detection model returns, and how detections are scored against an injected truth.

A detection table (astropy ``Table``) has one row per detection: ``ra``, ``dec`` (ICRS, degrees), ``x``,
``y`` (pixels of the image), ``peak``/``peak_err`` and ``flux``/``flux_err`` (the image's unit),
``snr``, ``kind`` (``source`` or ``artefact``), ``confidence`` and ``confidence_err`` (the model's
probability that the detection is what ``kind`` says, with its 1σ uncertainty) and a ``note``. Its
``meta`` names the model, its version and the image.
"""

from __future__ import annotations

import numpy as np

from .images import sky

COLUMNS = (("ra", float), ("dec", float), ("x", float), ("y", float), ("peak", float), ("peak_err", float),
           ("flux", float), ("flux_err", float), ("snr", float), ("island_pixels", int), ("kind", "U8"),
           ("confidence", float), ("confidence_err", float), ("note", "U80"))


def detection_table(rows: list[dict], image, *, model: str, version: str):
    """Rows (dicts with x, y and the measured columns) as a detection table, positions in ICRS."""
    from astropy.table import Table

    table = Table(names=[n for n, _ in COLUMNS], dtype=[t for _, t in COLUMNS])
    if rows:
        positions = sky(image, [r["x"] for r in rows], [r["y"] for r in rows])
        for row, position in zip(rows, positions):
            table.add_row({"ra": position.ra.deg, "dec": position.dec.deg, "kind": row.get("kind", "source"),
                           "note": row.get("note", ""), "island_pixels": row.get("island_pixels", 0),
                           **{k: row[k] for k in ("x", "y", "peak", "peak_err", "flux", "flux_err", "snr",
                                                  "confidence", "confidence_err")}})
    table["ra"].unit = table["dec"].unit = "deg"
    table.meta.update({"model": model, "version": version, "image": image.attrs.get("path", image.name),
                       "unit": image.attrs.get("unit", "")})
    return table


def match(a, b, radius_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one sky matches between tables (or ra/dec pairs) ``a`` and ``b`` within ``radius_deg``: the
    indices into each, nearest pairs first."""
    import astropy.units as u
    from astropy.coordinates import SkyCoord

    if not len(a) or not len(b):
        return np.array([], int), np.array([], int)
    ca = SkyCoord(np.asarray(a["ra"]) * u.deg, np.asarray(a["dec"]) * u.deg)
    cb = SkyCoord(np.asarray(b["ra"]) * u.deg, np.asarray(b["dec"]) * u.deg)
    ia, ib, separation, _ = cb.search_around_sky(ca, radius_deg * u.deg)
    taken_a, taken_b, pairs = set(), set(), []
    for k in np.argsort(separation.deg):
        if ia[k] not in taken_a and ib[k] not in taken_b:
            taken_a.add(ia[k])
            taken_b.add(ib[k])
            pairs.append((ia[k], ib[k]))
    pairs.sort()
    return np.array([p[0] for p in pairs], int), np.array([p[1] for p in pairs], int)


def score(detections, truth, *, radius_deg: float, kind: str = "source") -> dict:
    """Precision and recall of ``detections`` of ``kind`` against the ``truth`` table of that kind."""
    found = detections[detections["kind"] == kind] if len(detections) else detections
    expected = truth[truth["kind"] == kind] if len(truth) else truth
    i, _ = match(found, expected, radius_deg)
    tp = len(i)
    precision = tp / len(found) if len(found) else 1.0
    recall = tp / len(expected) if len(expected) else 1.0
    return {"kind": kind, "detected": len(found), "expected": len(expected), "matched": tp,
            "precision": round(precision, 4), "recall": round(recall, 4)}
