"""The gallery's JSON API: every published analysis a reader may see, with its standing (the signature checked
here, the marks followed through capsules and the registry's lineage), its independent replays and forks,
searched and faceted (:mod:`jupyter_vlass.reproducibility.gallery`); and the provenance export of a chain
(:mod:`jupyter_vlass.reproducibility.provenance`)."""

from __future__ import annotations

import json
import os
from urllib.parse import quote

from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPClientError

from ..exceptions import InvalidArgument
from ..reproducibility.chain import Origins
from ..reproducibility.gallery import GalleryQuery
from ..reproducibility.preview import preview
from ..reproducibility.provenance import FORMATS, MAX_CAPSULES, export, select
from ..reproducibility.store import UnknownAnalysis
from ..review.gallery_page import gallery_page
from .capsules import CapsulesHandler


SUFFIXES = {"prov-json": ".prov.json", "prov-o": ".ttl", "prov-jsonld": ".jsonld", "prov-n": ".provn", "prov-xml": ".prov.xml",
            "datacite": ".datacite.json", "crate": ".crate.zip", "summary": ".md"}
MAX_LIMIT_ALL = 10**9
# The entry page: the hub's layout (its styles, scripts and logo, from this origin) around a preview cleaned of
# every script and handler; no inline script runs, nothing is framed or sent elsewhere.
PAGE_POLICY = ("default-src 'none'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
               "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'self'; base-uri 'none'")  # one entry's page weighs it among all the others (its replays, forks, newer versions)


class GalleryHandler(CapsulesHandler):
    """The gallery's pages, JSON and exports: each request of a reader's counted against their rate
    (``page_rate``; 429 ``rate_limited`` with ``Retry-After`` past it)."""

    def prepare(self):
        super().prepare()
        limits = self.settings.get("page_rate")
        if limits is not None and self.current_user:  # no user: @web.authenticated answers
            limits.take(self.current_user["name"], "gallery and provenance requests")

    def get_template_namespace(self) -> dict:
        return {**super().get_template_namespace(), "base": os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/vlass/")}

    def gallery(self, query: GalleryQuery) -> dict:
        """One page of the gallery for the caller (blocking: run it in the executor)."""
        return gallery_page(query, analyses=self.visible_list(), store=self.store, view=self._view(),
                            review=self.settings["review"], checks=self.settings["signature_checks"])

    def entry(self, capsule_id: str) -> tuple[dict, dict]:
        """One analysis the caller may see, as the gallery lists it, and the titles of those it names."""
        self.visible(capsule_id)  # UnknownAnalysis for one the caller may not see
        found = {e["id"]: e for e in self.gallery(GalleryQuery(limit=MAX_LIMIT_ALL))["entries"]}
        entry = found[capsule_id]
        return entry, {i: found[i]["title"] for i in [*entry["derived"], entry["parent"] or ""] if i in found}

    def query(self) -> GalleryQuery:
        return GalleryQuery.from_params(lambda name: self.get_query_argument(name, None) or None)


class GalleryAPI(GalleryHandler):
    """``GET api/gallery?region=&dataset=&model=&author=&status=&sort=newest|most_reproduced|controversial&limit=&cursor=``."""

    @web.authenticated
    async def get(self):
        query = self.query()
        self.finish(await self.blocking(self.gallery, query))


class GalleryPage(GalleryHandler):
    """The gallery for people: the same search as a form, each entry's standing, a retracted one's tombstone
    (why, by whom, when, what derives from it), its provenance to download. Every string is escaped."""

    @web.authenticated
    async def get(self):
        query = self.query()
        page = await self.blocking(self.gallery, query)
        titles = {e["id"]: e["title"] for e in page["entries"]}
        self.render("gallery.html", user=self.user_name, page=page, query=query, titles=titles,
                    params={k: self.get_query_argument(k, "") for k in
                            ("region", "dataset", "model", "author", "status", "sort")})


class GalleryEntryPage(GalleryHandler):
    """One analysis at its stable, version-pinned address: its standing and tombstone, a newer version's notice,
    the executed notebook read-only (cleaned, under a policy that runs no script), and "Fork into my server"
    (the hub starts the reader's server if needed and opens the fork page there)."""

    @web.authenticated
    async def get(self, capsule_id: str):
        entry, titles = await self.blocking(self.entry, capsule_id)
        body = await self.blocking(preview, self.store.path(capsule_id))
        hub = os.environ.get("JUPYTERHUB_BASE_URL", "/").rstrip("/") + "/hub/"
        self.set_header("Content-Security-Policy", PAGE_POLICY)
        self.render("analysis.html", title=f"{entry['title']}: published analysis", user=self.user_name, e=entry,
                    titles=titles, preview=body,
                    fork=f"{hub}user-redirect/vlass/fork/{entry['id']}")


class _AsTheCallerSees:
    """The hub's capsule store as a reader sees it (what :func:`document` reads): a capsule they may not see is
    unknown to them."""

    def __init__(self, handler: CapsulesHandler):
        self._handler = handler

    def show(self, capsule_id: str) -> dict:
        return self._handler.visible(capsule_id)

    def path(self, capsule_id: str):
        return self._handler.store.path(capsule_id)

    def lineage(self, capsule_id: str) -> list[str]:
        return self._handler.store.lineage(capsule_id)


class ProvenanceAPI(GalleryHandler):
    """``GET api/provenance?capsule=ID[&capsule=ID...]&format=prov-json|prov-o|prov-jsonld|prov-n|prov-xml|datacite|crate|summary``:
    the chain of those capsules and everything they derive from that the caller may see. Without ``capsule``, an
    institute's report (:func:`~jupyter_vlass.reproducibility.provenance.select`): every analysis the caller may
    see that reads ``dataset`` (and what derives from it), published ``since``/``until``, by ``author`` (repeated)
    or the members of hub ``group``, under ``award``."""

    async def _authors(self) -> list[str]:
        authors = list(self.get_query_arguments("author"))
        group = self.get_query_argument("group", None) or None  # an empty field of the gallery's form: none
        if group is not None:
            authors += await hub_group_members(group)
            if not authors:
                raise InvalidArgument(f"group: {group[:80]!r} has no members")
        return authors

    @web.authenticated
    async def get(self):
        ids, fmt = self.get_query_arguments("capsule"), self.get_query_argument("format", "prov-json")
        if fmt not in FORMATS:
            raise InvalidArgument(f"format: one of {', '.join(FORMATS)}")
        criteria = {name: self.get_query_argument(name, None) or None for name in ("dataset", "since", "until", "award")}
        authors = await self._authors()
        if not ids and not (authors or any(criteria.values())):
            raise InvalidArgument("capsule, or a report's dataset, since, until, author, group or award")
        if len(ids) > MAX_CAPSULES:
            raise InvalidArgument(f"capsule: 1 to {MAX_CAPSULES} capsule ids")

        def chain() -> str:
            chosen = ids or select(self.visible_list(), authors=authors, **criteria)
            if not chosen:
                raise UnknownAnalysis("no published analysis you may see matches the report's criteria")
            return export(_AsTheCallerSees(self), chosen, fmt, marks=self.settings["review"].marks,
                          origins=Origins(self._view()), about=_about(criteria, self.get_query_arguments("author"),
                                                                      self.get_query_argument("group", None) or None))
        text = await self.blocking(chain)
        self.set_header("Content-Type", FORMATS[fmt] if isinstance(text, bytes) else f"{FORMATS[fmt]}; charset=utf-8")
        self.set_header("Content-Disposition", f"attachment; filename=provenance{SUFFIXES[fmt]}")
        self.finish(text)


def _about(criteria: dict, authors: list[str], group: str | None) -> str:
    """What a report covers, in words, for its summary."""
    parts = [f"{label} {criteria[name]}" for name, label in (("dataset", "reading"), ("since", "from"),
                                                             ("until", "until"), ("award", "under award")) if criteria[name]]
    parts += [f"by {', '.join(authors)}"] if authors else []
    parts += [f"by the members of hub group {group}"] if group else []
    return ("Every published analysis you may see " + " ".join(parts)) if parts else ""


async def hub_group_members(group: str) -> list[str]:
    """The members of the hub's ``group``, asked of the hub's API with the service's token (its role reads groups)."""
    if not 0 < len(group) <= 255:
        raise InvalidArgument("group: a hub group's name")
    url = os.environ.get("JUPYTERHUB_API_URL", "http://127.0.0.1:8081/hub/api").rstrip("/") + f"/groups/{quote(group, safe='')}"
    try:
        answer = await AsyncHTTPClient().fetch(url, headers={"Authorization": f"token {os.environ.get('JUPYTERHUB_API_TOKEN', '')}"},
                                               request_timeout=15)
    except HTTPClientError as error:
        if error.code == 404:
            raise InvalidArgument(f"group: no hub group {group[:80]!r}") from None
        raise
    return [u for u in json.loads(answer.body).get("users") or [] if isinstance(u, str)]


def routes(prefix_join) -> list:
    return [(prefix_join("api/gallery"), GalleryAPI), (prefix_join("gallery"), GalleryPage),
            (prefix_join(r"gallery/([^/]+)"), GalleryEntryPage),
            (prefix_join("api/provenance"), ProvenanceAPI)]
