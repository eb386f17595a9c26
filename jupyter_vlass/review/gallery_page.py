"""One page of the gallery with each entry's standing, for the hub service and for a server of one's own: the
analyses a reader may see, each signature checked, the marks followed through capsules and the registry's
lineage, how split the experts' votes on its datasets are (:mod:`jupyter_vlass.reproducibility.gallery`)."""

from __future__ import annotations

from ..federation.paging import MAX_LIMIT
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
    lineages = _Ancestry(view) if view is not None else None  # many entries read the same versions

    def standing(analysis: dict) -> dict:
        lineage, hidden = followed(store.lineage(analysis["id"]), lineages)
        pins = analysis["inputs"] + analysis["opened"]
        return {"verifies": checks.verifies(store.path(analysis["id"])),
                "marks": review.marks(f"capsule:{analysis['id']}", lineage, hidden=hidden, index=index),
                "disagreement": max((split.get((p["id"], p["version"]), 0.0) for p in pins), default=0.0)}
    found = None if query.region is None else in_region(view, query.region)
    return search(entries(analyses, standing), query, found)


def in_region(view, region) -> set[tuple[str, str]]:
    """The dataset versions the registry's index finds in ``region`` (up to :data:`MAX_REGION_HITS`), page by page
    (a registry's page holds at most :data:`~jupyter_vlass.federation.paging.MAX_LIMIT`); none without a registry."""
    found, cursor = set(), None
    while view is not None and len(found) < MAX_REGION_HITS:
        page = view.search(region, limit=MAX_LIMIT, cursor=cursor)
        found |= {(h.dataset_id, h.version) for h in page.hits}
        cursor = page.next_cursor
        if not cursor:
            break
    return found


class _Ancestry:
    """The registry's ``ancestors`` of each set of dataset versions asked for once in a page."""

    def __init__(self, view):
        self._view, self._known = view, {}

    def ancestors(self, pins: list[str]) -> list[tuple[str, bool]]:
        key = tuple(pins)
        if key not in self._known:
            self._known[key] = self._view.ancestors(pins)
        return self._known[key]
