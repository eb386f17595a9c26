"""The gallery's JSON API: every published analysis a reader may see, with its standing (the signature checked
here, the marks followed through capsules and the registry's lineage), its independent replays and forks,
searched and faceted (:mod:`jupyter_vlass.reproducibility.gallery`)."""

from __future__ import annotations

from tornado import web

from ..reproducibility.gallery import GalleryQuery, entries, search
from ..review.review import followed
from .capsules import CapsulesHandler


MAX_REGION_HITS = 10_000  # dataset versions read for one region query


class GalleryAPI(CapsulesHandler):
    """``GET api/gallery?region=&dataset=&model=&author=&status=&sort=newest|most_reproduced&limit=&cursor=``."""

    @web.authenticated
    async def get(self):
        query = GalleryQuery.from_params(lambda name: self.get_query_argument(name, None))

        def page():
            view, review, checks = self._view(), self.settings["review"], self.settings["signature_checks"]

            def standing(analysis: dict) -> dict:
                lineage, hidden = followed(self.store.lineage(analysis["id"]), view)
                return {"verifies": checks.verifies(self.store.path(analysis["id"])),
                        "marks": review.marks(f"capsule:{analysis['id']}", lineage, hidden=hidden)}
            in_region = None
            if query.region is not None:  # the registry's index finds the dataset versions there
                hits = view.search(query.region, limit=MAX_REGION_HITS).hits if view is not None else []
                in_region = {(h.dataset_id, h.version) for h in hits}
            return search(entries(self.visible_list(), standing), query, in_region)
        self.finish(await self.blocking(page))


def routes(prefix_join) -> list:
    return [(prefix_join("api/gallery"), GalleryAPI)]
