"""The registry served as an IVOA SIA v2 endpoint (ObsCore VOTable), for pyvo, TOPCAT and Aladin."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized

from ...exceptions import InvalidArgument, VlassError
from .base import VlassHandler, authenticated

VOTABLE = "application/x-votable+xml"
CHUNK = 500

CAPABILITIES = """<?xml version="1.0" encoding="UTF-8"?>
<vosi:capabilities xmlns:vosi="http://www.ivoa.net/xml/VOSICapabilities/v1.0"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:vs="http://www.ivoa.net/xml/VODataService/v1.1">
  <capability standardID="ivo://ivoa.net/std/SIA#query-2.0">
    <interface xsi:type="vs:ParamHTTP" role="std" version="2.0">
      <accessURL use="full">{url}</accessURL>
    </interface>
  </capability>
</vosi:capabilities>
"""


def parse_maxrec(text: str) -> int:
    try:
        maxrec = int(text)
    except ValueError:
        raise InvalidArgument(f"MAXREC must be an integer, got {text[:32]!r}", reason="UsageFault") from None
    if maxrec < 0:
        raise InvalidArgument("MAXREC must be >= 0", reason="UsageFault")
    return maxrec


class Sia2QueryHandler(VlassHandler):
    def _params(self) -> dict[str, list[str]]:
        params: dict[str, list[str]] = {}
        for key, values in self.request.arguments.items():
            params.setdefault(key.upper(), []).extend(v.decode("utf-8", "replace") for v in values)
        return params

    def _fail(self, message: str, status: int = 400) -> None:
        self.set_status(status)
        from ...federation.obscore import error_votable

        self.set_header("Content-Type", VOTABLE)
        self.finish(error_votable(message))

    async def _collections(self, named: list[str] | None) -> list[str] | None:
        """The named collections that are sources here (None: all of them); one that is not matches
        nothing, as DALI expects of a value no record has (so none known is an empty result)."""
        if not named:
            return None
        known = {s["name"] for s in await self.blocking(self.registry.sources)}
        return [name for name in dict.fromkeys(named) if name in known]

    @authenticated
    @authorized
    async def get(self):
        from ...federation import Region
        from ...federation.obscore import in_band, parse_band, parse_pos, votable_bytes

        params = self._params()
        try:
            regions = parse_pos(params.get("POS", [])) or [Region.from_degrees(0.0, 90.0, 180.0)]
            bands = parse_band(params.get("BAND", []))
            maxrec = parse_maxrec(params.get("MAXREC", ["10000"])[-1])
            fmt = params.get("RESPONSEFORMAT", ["votable"])[-1].lower()
            if fmt not in ("votable", VOTABLE, "application/x-votable+xml;content=datalink", "text/xml"):
                raise InvalidArgument(f"RESPONSEFORMAT {fmt!r} is not supported (use votable)")
            collections = await self._collections(params.get("COLLECTION"))
            ids = set(params.get("ID", []))
            best: dict[tuple, object] = {}  # each record once, at its best score over the POS regions
            for region in regions if collections != [] else []:
                result = await self.blocking(self.registry.search, region, sources=collections,
                                             deadline=self.settings["vlass_deadline"], user=self.username)
                for hit in result.hits:
                    key = (hit.source, hit.dataset_id, hit.version)
                    if key not in best or hit.score > best[key].score:
                        best[key] = hit
            ranked = sorted(best.values(), key=lambda h: (-h.score, h.dataset_id, h.version))
            records = []
            # ranked over every POS: read records a chunk at a time until MAXREC and one more (OVERFLOW)
            for start in range(0, len(ranked), CHUNK):
                if len(records) > maxrec:
                    break
                for record in await self.blocking(self.registry.records_for, ranked[start:start + CHUNK]):
                    if not in_band(record, bands):
                        continue
                    if ids and not any(i.endswith(f"?{record.dataset_id}@{record.version}") for i in ids):
                        continue
                    records.append(record)
        except VlassError as exc:
            return self._fail(exc.message, exc.status)
        self.set_header("Content-Type", VOTABLE)
        self.finish(votable_bytes(records[:maxrec], overflow=len(records) > maxrec))


class Sia2CapabilitiesHandler(VlassHandler):
    @authenticated
    @authorized
    async def get(self):
        url = f"{self.request.protocol}://{self.request.host}{self.base_url}vlass/sia2/query"
        self.set_header("Content-Type", "text/xml")
        self.finish(CAPABILITIES.format(url=url))
