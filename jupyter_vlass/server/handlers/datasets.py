"""REST: /vlass/api/datasets (region search) and /vlass/api/datasets/{id} (versions, lineage)."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized

from ...exceptions import InvalidArgument
from ... import federation  # its names load on first use
from ...federation.params import parse_number, parse_sources, source_spec
from .base import VlassHandler, authenticated


class DatasetSearchHandler(VlassHandler):
    @authenticated
    @authorized
    async def get(self):
        region_text = self.get_query_argument("region", None)
        if not region_text:
            raise InvalidArgument("missing query parameter 'region' (RA,DEC,RADIUS in degrees)")
        region = federation.Region.parse(region_text, self.get_query_argument("frame", "icrs"))
        deadline = parse_number(self.get_query_argument("deadline", None), "deadline",
                                default=self.settings["vlass_deadline"])
        limit = parse_number(self.get_query_argument("limit", None), "limit", cast=int)
        if limit is not None and limit < 0:
            raise InvalidArgument("limit must be >= 0")
        result = await self.blocking(self.registry.search, region,
                                     sources=parse_sources(self.get_query_argument("sources", None)),
                                     deadline=deadline, user=self.username, limit=limit,
                                     cursor=self.get_query_argument("cursor", None))
        self.write_json(result.to_json())


class DatasetHandler(VlassHandler):
    @authenticated
    @authorized
    async def get(self, dataset_id: str):
        self.write_json(await self.blocking(self.registry.describe, dataset_id))


class DatasetCodeHandler(VlassHandler):
    """Python that opens one version of a dataset, pinned by version and sha256 and citing it."""

    @authenticated
    @authorized
    async def get(self, dataset_id: str):
        version = self.get_query_argument("version", None)

        def run():
            from ...federation.snippet import open_code

            record = self.registry.get(dataset_id, version)
            return {"id": record.dataset_id, "version": record.version, "citation": federation.cite(record),
                    "code": open_code(record)}
        self.write_json(await self.blocking(run))


class MultiSiteConsensusHandler(VlassHandler):
    """The newest consensus of a dataset's detection runs (models and sites), with the experts' votes and
    the publish gate's decision; kept hub-wide by the hub service under a hub."""

    @authenticated
    @authorized
    async def get(self, dataset_id: str):
        version = self.get_query_argument("version", None)

        def run():
            from ...review.review import review

            found = review(self.registry.Session)
            latest = found.latest(dataset_id, version)
            return {**latest, "gate": found.gate(dataset_id, latest["version"]).to_json()}
        self.write_json(await self.blocking(run))


class SourcesHandler(VlassHandler):
    @authenticated
    @authorized
    async def get(self):
        self.write_json({"sources": await self.blocking(self.registry.sources)})

    @authenticated
    @authorized
    async def post(self):
        name, kind, uri, options = source_spec(self.json_body())
        doc = await self.blocking(self.registry.add_source, name, kind, uri, options=options)
        self.write_json(doc, status=201)


class SourceSyncHandler(VlassHandler):
    @authenticated
    @authorized
    async def post(self, name: str):
        force = self.get_query_argument("force", "false").lower() in ("1", "true", "yes")
        reports = await self.blocking(self.registry.sync, name, force=force)
        self.write_json({"reports": [r.to_json() for r in reports]})
