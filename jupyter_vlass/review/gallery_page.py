"""One page of the gallery with each entry's standing, for the hub service and for a server of one's own: the
analyses a reader may see, each signature checked, the marks followed through capsules and the registry's
lineage, how split the experts' votes on its datasets are (:mod:`jupyter_vlass.reproducibility.gallery`)."""

from __future__ import annotations

from ..reproducibility.gallery import GalleryQuery, entries, search
from .review import followed

MAX_REGION_HITS = 10_000  # dataset versions read for one region query
MAX_RESULTS = 100_000  # consensus results whose votes are weighed


def gallery_page(query: GalleryQuery, *, analyses: list[dict], store, view, review, checks) -> dict:
    """``{entries, total, facets, next_cursor}`` of ``analyses`` (what the reader may see in ``store``); ``view``:
    the registry as the reader sees it (None: no lineage followed, no region search); ``review``: a
    :class:`~.review.Review`; ``checks``: a :class:`~jupyter_vlass.reproducibility.gallery.SignatureChecks`."""
    split = {(r["dataset_id"], r["version"]): r["disagreement"] for r in review.controversial(MAX_RESULTS)}
    index = review.mark_index()  # one query for every entry's marks

    def standing(analysis: dict) -> dict:
        lineage, hidden = followed(store.lineage(analysis["id"]), view)
        pins = analysis["inputs"] + analysis["opened"]
        return {"verifies": checks.verifies(store.path(analysis["id"])),
                "marks": review.marks(f"capsule:{analysis['id']}", lineage, hidden=hidden, index=index),
                "disagreement": max((split.get((p["id"], p["version"]), 0.0) for p in pins), default=0.0)}
    in_region = None
    if query.region is not None:  # the registry's index finds the dataset versions there
        hits = view.search(query.region, limit=MAX_REGION_HITS).hits if view is not None else []
        in_region = {(h.dataset_id, h.version) for h in hits}
    return search(entries(analyses, standing), query, in_region)
