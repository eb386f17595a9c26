"""The registry's answers as JSON and back: what the hub service sends and :mod:`.hub_registry` reads.

A record travels whole (its footprint's MOC as base64 of the store's encoding), so a user's server gets
from the service the same :class:`DatasetRecord` it would read from its own database.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

import astropy.units as u
from astropy.coordinates import Angle, SkyCoord
from astropy.time import Time

from ..exceptions import InvalidRegion
from .base import Skipped
from .footprints import Footprint
from .records import DatasetRecord
from .region import Region
from .results import Hit, SearchResult, SourceStatus
from .sync import SyncReport


def record_to_json(record: DatasetRecord) -> dict:
    footprint = record.footprint
    return {**record.summary(), "etag": record.etag, "radius_deg": float(footprint.radius.deg),
            "moc_depth": footprint.depth, "moc": base64.b64encode(footprint.to_bytes()).decode()}


def record_from_json(doc: dict) -> DatasetRecord:
    footprint = Footprint(Footprint.moc_from_bytes(int(doc["moc_depth"]), base64.b64decode(doc["moc"])),
                          SkyCoord(doc["s_ra"] * u.deg, doc["s_dec"] * u.deg, frame="icrs"),
                          Angle(doc["radius_deg"], u.deg))
    return DatasetRecord(
        dataset_id=doc["id"], version=doc["version"], uri=doc["uri"], sha256=doc["sha256"], title=doc["title"],
        source=doc["source"], footprint=footprint,
        em_min=None if doc.get("em_min") is None else doc["em_min"] * u.m,
        em_max=None if doc.get("em_max") is None else doc["em_max"] * u.m,
        access_tier=doc.get("access_tier", "public"), size=doc.get("size"),
        dataproduct_type=doc.get("dataproduct_type", "image"), access_format=doc.get("access_format", ""),
        release_date=None if doc.get("release_date") is None else Time(doc["release_date"]),
        ingested_at=None if doc.get("ingested_at") is None else Time(doc["ingested_at"]),
        provenance=doc.get("provenance") or {}, derived_from=tuple(doc.get("derived_from") or ()),
        extra=doc.get("extra") or {}, etag=doc.get("etag"))


def result_from_json(doc: dict, region: Region) -> SearchResult:
    """A search answer (:meth:`SearchResult.to_json`) as the result the caller would have had in-process."""
    hits = [Hit(dataset_id=d["id"], version=d["version"], source=d["source"], uri=d["uri"], sha256=d["sha256"],
                title=d["title"], s_ra=d["s_ra"], s_dec=d["s_dec"], s_fov=d["s_fov"], access_tier=d["access_tier"],
                coverage=d["coverage"], footprint_fraction=d["footprint_fraction"], score=d["score"],
                parts=dict(d.get("score_parts") or {})) for d in doc["datasets"]]
    statuses = [SourceStatus(name=s["name"], status=s["status"], elapsed_s=s.get("elapsed_s", 0.0),
                             count=s.get("count", 0), message=s.get("message"), retry_after=s.get("retry_after"),
                             stale=bool(s.get("stale")), synced_at=s.get("synced_at")) for s in doc["sources"]]
    return SearchResult(region=region, hits=hits, sources=statuses, elapsed_s=doc.get("elapsed_s", 0.0),
                        total=doc.get("total"), offset=doc.get("offset", 0), next_cursor=doc.get("next_cursor"))


def report_from_json(doc: dict) -> SyncReport:
    return SyncReport(source=doc["source"], status=doc["status"], added=doc.get("added", 0),
                      updated=doc.get("updated", 0), unchanged=doc.get("unchanged", 0),
                      withdrawn=doc.get("withdrawn", 0), message=doc.get("message"),
                      elapsed_s=doc.get("elapsed_s", 0.0), versions=list(doc.get("versions") or ()),
                      skipped=[Skipped(s["uri"], s["reason"]) for s in doc.get("skipped") or ()])


def region_params(region: Region) -> dict[str, str]:
    """The query parameters that name ``region`` exactly (full precision, its shape kept)."""
    shape = region.as_json()
    if "polygon" in shape:
        return {"polygon": ",".join(repr(float(v)) for vertex in shape["polygon"] for v in vertex)}
    if "range" in shape:
        return {"range": ",".join(repr(float(v)) for v in shape["range"])}
    return {"region": f"{region.ra_deg!r},{region.dec_deg!r},{region.radius_deg!r}"}


def region_from_params(get: Callable[[str], str | None]) -> Region:
    """The region of a request's query (``get(name)`` reads one parameter): ``region=RA,DEC,RADIUS`` with an
    optional ``frame``, ``polygon=RA,DEC,RA,DEC,...`` or ``range=RAMIN,RAMAX,DECMIN,DECMAX`` (degrees, ICRS)."""
    polygon, ranges, cone = get("polygon"), get("range"), get("region")
    if sum(v is not None for v in (polygon, ranges, cone)) != 1:
        raise InvalidRegion("give one of the query parameters 'region' (RA,DEC,RADIUS in degrees), "
                            "'polygon' (RA,DEC,RA,DEC,...) or 'range' (RAMIN,RAMAX,DECMIN,DECMAX)")
    if cone is not None:
        return Region.parse(cone, get("frame") or "icrs")
    numbers = _numbers(polygon if polygon is not None else ranges)
    if polygon is not None:
        if len(numbers) % 2:
            raise InvalidRegion("polygon must list RA,DEC pairs")
        return Region.polygon(list(zip(numbers[::2], numbers[1::2])))
    if len(numbers) != 4:
        raise InvalidRegion("range must be RAMIN,RAMAX,DECMIN,DECMAX")
    return Region.range(*numbers)


def _numbers(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise InvalidRegion(f"not a list of numbers: {text[:80]!r}") from None

