"""The consensus overlay as a static matplotlib figure, for notebooks read as files (nbviewer, a capsule):
the image on its own WCS, agree (green) and conflict (yellow) detections as circles (faint when the
score's uncertainty is above 0.1), each run's detections as small markers, the per-pixel agreement as a
translucent layer of the same colours when the consensus has one, and a legend."""

from __future__ import annotations

import numpy as np

from .document import consensus_document
from .images import open_image
from .pixels import NAMES

AGREEMENT_COLOURS = {"agree": "#00e600", "conflict": "#ffd700", "single": "#aaaaaa"}
RUN_MARKERS = [("s", "#00e5ff"), ("^", "#ff40ff"), ("D", "#ff7f2a"), ("P", "#4d7cff")]
UNSURE = 0.1


def consensus_figure(image, consensus, runs=(), *, path=None, title: str | None = None):
    """A figure of ``consensus`` (a Consensus or the review's document) over ``image`` (a path or the
    DataArray of :func:`~jupyter_vlass.models.images.open_image`); saved to ``path`` when given."""
    import matplotlib.pyplot as plt
    from astropy.visualization import AsinhStretch, ImageNormalize, PercentileInterval

    array = open_image(image) if not hasattr(image, "attrs") else image
    data = np.asarray(array.data)
    doc = consensus_document(consensus)
    figure = plt.figure(figsize=(8, 8))
    axes = figure.add_subplot(projection=array.attrs["wcs"])
    axes.imshow(data, origin="lower", cmap="gray_r",
                norm=ImageNormalize(data, interval=PercentileInterval(99.8), stretch=AsinhStretch(0.05)))
    pixels = getattr(consensus, "pixels", None)
    if pixels is not None and tuple(pixels.shape) == data.shape:
        _pixel_layer(axes, np.asarray(pixels.data))
    world = axes.get_transform("icrs")  # detections are ICRS whatever the image's own frame
    for agreement, colour in AGREEMENT_COLOURS.items():
        for unsure in (False, True):
            rows = [d for d in doc["detections"] if d["agreement"] == agreement and (d["score_err"] > UNSURE) == unsure]
            if rows:
                axes.scatter([d["ra"] for d in rows], [d["dec"] for d in rows], transform=world, s=180,
                             facecolors="none", edgecolors=colour, linewidths=2, alpha=0.45 if unsure else 1.0,
                             label=f"{agreement}{' (uncertain)' if unsure else ''} ({len(rows)})")
    for k, run in enumerate(r for r in runs if r.detections is not None):
        marker, colour = RUN_MARKERS[k % len(RUN_MARKERS)]
        axes.scatter(np.asarray(run.detections["ra"]), np.asarray(run.detections["dec"]), transform=world, s=14,
                     marker=marker, color=colour, label=f"{run.label} ({len(run.detections)})")
    summary = doc.get("summary") or {}
    axes.set_title(title or f"{summary.get('agree', 0)} agree, {summary.get('conflict', 0)} conflict, "
                            f"{summary.get('high_confidence', 0)} high confidence")
    axes.legend(loc="upper right", fontsize=8, framealpha=0.8)
    if path is not None:
        figure.savefig(path, dpi=100)
    return figure


def _pixel_layer(axes, agreement: np.ndarray) -> None:
    """The agreement map (:mod:`.pixels`) as a translucent RGBA layer: agree green, conflict and single as
    their detections are drawn."""
    from matplotlib.colors import to_rgba

    layer = np.zeros(agreement.shape + (4,), np.float32)
    for code, name in NAMES.items():
        layer[agreement == code] = to_rgba(AGREEMENT_COLOURS[name], 0.55)
    axes.imshow(layer, origin="lower", interpolation="nearest")
