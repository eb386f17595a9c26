"""The hub's published capsules, held by the service in a store it alone writes: received from their authors
(verified, signed by the site's key, naming the caller as the run's agent), listed, shown, downloaded, matched
and ranked for every hub user.

What a caller sees: their own capsules; others' completed ones whose every dataset version the caller's groups
may read in the service's registry (a failed run is its owner's alone).
"""

from __future__ import annotations

from tornado import web

from ..exceptions import Forbidden, InvalidArgument, UnknownDataset
from ..jobs.archive import pack
from ..reproducibility.store import CAPSULE_ID, UNKNOWN_NOTEBOOK, UnknownAnalysis
from .datasets import RegistryHandler

TAR = "application/x-tar"


class CapsulesHandler(RegistryHandler):
    @property
    def store(self):
        return self.settings["capsules"]

    def _visible(self, analysis: dict, view, readable: dict | None = None) -> bool:
        """``readable``: what the caller may read, by ``(id, version)``, filled as it is asked (one lookup per
        dataset version for a whole listing, not one per capsule)."""
        if analysis["owner"] == self.user_name:
            return True
        if analysis["status"] == "failed":
            return False
        pins = analysis["inputs"] + analysis["opened"]
        if pins and view is None:  # no registry here to say who may read them: the owner's alone
            return False
        readable = {} if readable is None else readable
        for pin in pins:
            key = (pin["id"], pin["version"])
            if key not in readable:
                try:
                    view.get(*key)
                    readable[key] = True
                except UnknownDataset:
                    readable[key] = False
            if not readable[key]:
                return False
        return True

    def _view(self):
        return self.registry if self.settings.get("registry") is not None else None

    @staticmethod
    def _funded(analysis: dict, added: dict[str, list[dict]]) -> dict:
        """``analysis`` with the grants its author added after publishing (the review's audit trail)."""
        more = added.get(analysis["id"])
        return {**analysis, "funding": list(analysis.get("funding") or []) + more} if more else analysis

    def visible_list(self) -> list[dict]:
        view, added, readable = self._view(), self.settings["review"].funding_index(), {}
        return [self._funded(a, added) for a in self.store.list() if self._visible(a, view, readable)]

    def visible(self, capsule_id: str) -> dict:
        """The capsule as the caller may see it, else :class:`UnknownAnalysis` (never "exists but hidden")."""
        analysis = self.store.show(capsule_id)
        if not self._visible(analysis, self._view()):
            raise UnknownAnalysis(f"no published analysis {capsule_id[:64]!r}")
        return {**self._funded(analysis, self.settings["review"].funding_index()),
                "key_id": self.store.key_of(capsule_id), "lineage": self.store.lineage(capsule_id)}


class CapsuleListAPI(CapsulesHandler):
    @web.authenticated
    async def get(self):
        self.finish({"analyses": await self.blocking(self.visible_list)})

    @web.authenticated
    async def post(self):
        """A signed capsule, as a tar archive of its folder; 201 when new, 200 when the hub held it already."""
        if self.request.headers.get("Content-Type", "").split(";")[0].strip() != TAR:
            raise InvalidArgument(f"a capsule is sent as {TAR}: the archive of its folder")
        doc = await self.blocking(self.store.receive, self.request.body, keyring=self.settings["keyring"],
                                  user=self.user_name)
        # the gallery's check of its signature made now, by the author's request, not by its first reader's
        await self.blocking(self.settings["signature_checks"].verifies, self.store.path(doc["capsule_id"]))
        self.set_status(201 if doc["new"] else 200)
        self.finish(doc)


class CapsuleAPI(CapsulesHandler):
    @web.authenticated
    async def get(self, capsule_id: str):
        self.finish(await self.blocking(self.visible, capsule_id))


class FundingAPI(CapsulesHandler):
    """``POST {funder, award, funder_id, title}``: its author adds a grant the analysis was done under (an audit
    entry; the capsule's signed files stay as they are); every report and record of it names the grant then."""

    @web.authenticated
    async def post(self, capsule_id: str):
        def add() -> dict:
            analysis = self.visible(capsule_id)
            if analysis["owner"] != self.user_name:
                raise Forbidden(f"only the author of an analysis adds a grant to it ({analysis['owner']})")
            self.settings["review"].add_funding(capsule_id=capsule_id, grant=self.json_body(), by=self.user_name)
            return {"id": capsule_id, "funding": self.visible(capsule_id)["funding"]}
        self.set_status(201)
        self.finish(await self.blocking(add))


class ArchiveAPI(CapsulesHandler):
    @web.authenticated
    async def get(self, capsule_id: str):
        def archive():
            self.visible(capsule_id)
            return pack(self.store.path(capsule_id))
        data = await self.blocking(archive)
        self.set_header("Content-Type", TAR)
        self.finish(data)


class DataciteAPI(CapsulesHandler):
    @web.authenticated
    async def get(self, capsule_id: str):
        def doc():
            self.visible(capsule_id)
            return self.store.datacite(capsule_id)
        self.set_header("Content-Type", "application/ld+json")
        self.finish(await self.blocking(doc))


class LeaderboardAPI(CapsulesHandler):
    @web.authenticated
    async def get(self):
        def ranked():
            shown = {a["id"] for a in self.visible_list()}
            return [a for a in self.store.leaderboard() if a["id"] in shown]
        self.finish({"analyses": await self.blocking(ranked)})


class AffectedAPI(CapsulesHandler):
    """The caller's visible analyses a set of new dataset versions affects: ``{versions: [{id, version, sha256}]}``."""

    @web.authenticated
    async def post(self):
        versions = self.json_body().get("versions")
        if not isinstance(versions, list) or len(versions) > 10_000 or not all(
                isinstance(v, dict) and isinstance(v.get("id"), str) and isinstance(v.get("version"), str)
                for v in versions):
            raise InvalidArgument("versions: a list of at most 10000 {id, version, sha256}")

        def affected():
            shown = {a["id"] for a in self.visible_list()}
            return [a for a in self.store.affected_by_versions(versions) if a["id"] in shown]
        self.finish({"affected": await self.blocking(affected)})


class NotebookCheckAPI(CapsulesHandler):
    """Is a notebook copy the published notebook of its run's capsule: ``{run_id, sha256}``."""

    @web.authenticated
    async def post(self):
        body = self.json_body()
        run_id, sha256 = body.get("run_id"), body.get("sha256")
        if not isinstance(run_id, str) or len(run_id) > 512 or not isinstance(sha256, str) \
                or not CAPSULE_ID.match(sha256):
            raise InvalidArgument("run_id (the notebook's recorded run) and sha256 (64 hex digits of its bytes)")

        def check():
            found = self.store.match_notebook(run_id, sha256)
            if found["capsule_id"]:
                try:
                    self.visible(found["capsule_id"])
                except UnknownAnalysis:
                    return dict(UNKNOWN_NOTEBOOK)  # a capsule the caller may not see is not named
            return found
        self.finish(await self.blocking(check))


def routes(prefix_join) -> list:
    return [(prefix_join("api/capsules"), CapsuleListAPI),
            (prefix_join("api/capsules/leaderboard"), LeaderboardAPI),
            (prefix_join("api/capsules/affected"), AffectedAPI),
            (prefix_join("api/capsules/check"), NotebookCheckAPI),
            (prefix_join("api/capsules/([^/]+)/archive"), ArchiveAPI),
            (prefix_join("api/capsules/([^/]+)/datacite"), DataciteAPI),
            (prefix_join("api/capsules/([^/]+)/funding"), FundingAPI),
            (prefix_join("api/capsules/([^/]+)"), CapsuleAPI)]
