"""Discovery held by the hub service: region search, records, lineage and a dataset's bytes, each answered for
the caller's own groups (the hub's identity of their token); a shared registry's sources added and synced by
the holders of the sources scope (the hub's admins)."""

from __future__ import annotations

from tornado import web
from tornado.ioloop import IOLoop

from ..exceptions import Forbidden, InvalidArgument, NotFound
from ..federation.params import parse_number, parse_sources, source_spec
from ..federation.region import Region
from ..federation.wire import record_to_json, region_from_params
from .base import ServiceHandler
from .config import SOURCES_SCOPE

CHUNK = 1 << 20


class RegistryHandler(ServiceHandler):
    @property
    def registry(self):
        """The service's registry as the caller may see it (restricted datasets only for the groups granted)."""
        registry = self.settings.get("registry")
        if registry is None:
            raise NotFound("this hub's service holds no registry (each user's server has its own)")
        return registry.viewer([g for g in self.current_user.get("groups") or [] if isinstance(g, str)])

    async def blocking(self, fn, *args, **kwargs):
        return await IOLoop.current().run_in_executor(self.settings.get("executor"), lambda: fn(*args, **kwargs))

    def require_sources_scope(self, what: str) -> None:
        if SOURCES_SCOPE not in set(self.current_user.get("scopes", [])):
            raise Forbidden(f"{what} needs the scope {SOURCES_SCOPE} (the hub's admins have it)")


class SearchAPI(RegistryHandler):
    @web.authenticated
    async def get(self):
        region = region_from_params(lambda name: self.get_query_argument(name, None))
        deadline = parse_number(self.get_query_argument("deadline", None), "deadline", default=2.0)
        if not 0 < deadline <= 60:
            raise InvalidArgument("deadline must be in (0, 60] seconds")
        limit = parse_number(self.get_query_argument("limit", None), "limit", cast=int)
        if limit is not None and limit < 0:
            raise InvalidArgument("limit must be >= 0")
        names = parse_sources(self.get_query_argument("sources", None))
        quota = self.settings.get("search_quota")
        if quota is not None:
            quota.check_user(self.user_name)
        registry = self.registry
        result = await self.blocking(registry.search, region, sources=names, deadline=deadline,
                                     user=self.user_name, limit=limit, cursor=self.get_query_argument("cursor", None))
        self.finish(result.to_json())


class DatasetAPI(RegistryHandler):
    """Every version with its citation and lineage both ways."""

    @web.authenticated
    async def get(self, dataset_id: str):
        registry = self.registry
        self.finish(await self.blocking(registry.describe, dataset_id))


class RecordAPI(RegistryHandler):
    """One version whole (the newest without ``version``), as a user's server uses it: footprint included."""

    @web.authenticated
    async def get(self, dataset_id: str):
        registry, version = self.registry, self.get_query_argument("version", None)
        self.finish(record_to_json(await self.blocking(registry.get, dataset_id, version)))


class VersionsAPI(RegistryHandler):
    @web.authenticated
    async def get(self, dataset_id: str):
        registry = self.registry
        records = await self.blocking(registry.versions, dataset_id)
        self.finish({"versions": [record_to_json(r) for r in records]})


class DataAPI(RegistryHandler):
    """The version's bytes, read at its origin by the service and streamed to a caller its groups grant."""

    @web.authenticated
    async def get(self, dataset_id: str):
        registry, version = self.registry, self.get_query_argument("version", None)
        record = await self.blocking(registry.get, dataset_id, version)
        source = await self.blocking(registry.open, record)
        try:
            self.set_header("Content-Type", record.access_format or "application/octet-stream")
            if record.size:
                self.set_header("Content-Length", str(record.size))
            if record.sha256:
                self.set_header("X-Vlass-Sha256", record.sha256)
            while chunk := await self.blocking(source.read, CHUNK):
                self.write(chunk)
                await self.flush()
        finally:
            source.close()
        self.finish()


class CutoutAPI(RegistryHandler):
    """A FITS cutout made here, where a restricted dataset's bytes are read, for a caller its groups grant."""

    @web.authenticated
    async def get(self, dataset_id: str):
        text = self.get_query_argument("region", None)
        if not text:
            raise InvalidArgument("the query parameter 'region' (RA,DEC,RADIUS in degrees) is required")
        region = Region.parse(text)
        registry, version = self.registry, self.get_query_argument("version", None)
        record = await self.blocking(registry.get, dataset_id, version)
        data = await self.blocking(registry.cutout, record, region)
        self.set_header("Content-Type", "application/fits")
        self.finish(data)


class SourcesAPI(RegistryHandler):
    @web.authenticated
    async def get(self):
        registry = self.registry

        def listing():
            return [{**s, "viewable": registry.may_view_source(s["name"])} for s in registry.sources()]
        self.finish({"sources": await self.blocking(listing)})

    @web.authenticated
    async def post(self):
        self.require_sources_scope("adding a source")
        name, kind, uri, options = source_spec(self.json_body())
        registry = self.registry
        doc = await self.blocking(registry.add_source, name, kind, uri, options=options)
        self.set_status(201)
        self.finish(doc)


class SyncAPI(RegistryHandler):
    @web.authenticated
    async def post(self, name: str | None = None):
        self.require_sources_scope("syncing a source")
        force = self.get_query_argument("force", "false").lower() in ("1", "true", "yes")
        registry = self.registry
        reports = await self.blocking(registry.sync, name, force=force)
        self.finish({"reports": [r.to_json() for r in reports]})


def routes(prefix_join) -> list:
    # A dataset id is one path segment, its "/" sent as %2F (Tornado decodes the segment it matched).
    return [(prefix_join("api/datasets"), SearchAPI),
            (prefix_join("api/datasets/([^/]+)/record"), RecordAPI),
            (prefix_join("api/datasets/([^/]+)/versions"), VersionsAPI),
            (prefix_join("api/datasets/([^/]+)/data"), DataAPI),
            (prefix_join("api/datasets/([^/]+)/cutout"), CutoutAPI),
            (prefix_join("api/datasets/([^/]+)"), DatasetAPI),
            (prefix_join("api/sources"), SourcesAPI),
            (prefix_join("api/sources/sync"), SyncAPI),
            (prefix_join("api/sources/([^/]+)/sync"), SyncAPI)]
