"""HiPS tile proxy with a disk cache, and FITS cutouts of registered images."""

from __future__ import annotations

import hashlib
import mimetypes
import os

from jupyter_server.auth.decorator import authorized

from ...exceptions import InvalidArgument, UnknownSource
from ... import federation  # its names load on first use
from .base import VlassHandler, authenticated


class HipsHandler(VlassHandler):
    @authenticated
    @authorized
    async def get(self, source_name: str, path: str):
        registry = self.registry
        if not await self.blocking(registry.may_view_source, source_name):
            raise UnknownSource(f"no source named {source_name!r}")
        source = await self.blocking(registry.source, source_name)
        from ...federation.tiles import TileCache

        cache = TileCache(self.settings["vlass_cache_dir"])
        local = await self.blocking(cache.fetch, source_name, source.options.get("hips"), path, source.credentials)
        kind = mimetypes.guess_type(local)[0] or "application/octet-stream"
        if local.endswith(".fits"):
            kind = "application/fits"
        self.set_header("Content-Type", kind)
        self.set_header("Cache-Control", "max-age=86400")
        with open(local, "rb") as fh:
            self.finish(fh.read())


class CutoutHandler(VlassHandler):
    @authenticated
    @authorized
    async def get(self):
        dataset_id = self.get_query_argument("id", None)
        region_text = self.get_query_argument("region", None)
        if not dataset_id or not region_text:
            raise InvalidArgument("query parameters 'id' and 'region' (RA,DEC,RADIUS) are required")
        region = federation.Region.parse(region_text)
        registry = self.registry
        record = await self.blocking(registry.get, dataset_id, self.get_query_argument("version", None))
        key = hashlib.sha256(f"{record.sha256 or record.uri}|{region}".encode()).hexdigest()
        target = os.path.join(self.settings["vlass_cache_dir"], "cutouts", key + ".fits")
        if not os.path.isfile(target):
            def make():
                data = registry.cutout(record, region)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                tmp = target + ".tmp"
                with open(tmp, "wb") as out:
                    out.write(data)
                os.replace(tmp, target)
            await self.blocking(make)
        self.set_header("Content-Type", "application/fits")
        safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in record.dataset_id)
        self.set_header("Content-Disposition", f'attachment; filename="{safe}.{record.version}.cutout.fits"')
        with open(target, "rb") as fh:
            self.finish(fh.read())
