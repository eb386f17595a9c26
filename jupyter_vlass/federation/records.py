"""The one record model every source produces (ObsCore-like), and citations."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import astropy.units as u
import numpy as np
from astropy.time import Time

from .footprints import Footprint

ACCESS_TIERS = ("public", "restricted", "embargoed")


@dataclass(frozen=True)
class DatasetRecord:
    """One version of one dataset.

    ``dataset_id`` is stable across versions (``<source>:<local id>``); ``version`` plus
    ``sha256`` pin the exact bytes an analysis used. ``derived_from`` lists citations
    (``uri@version``) of the datasets this one was made from.
    """

    dataset_id: str
    version: str
    uri: str
    sha256: str | None
    title: str
    source: str
    footprint: Footprint
    em_min: u.Quantity | None = None
    em_max: u.Quantity | None = None
    access_tier: str = "public"
    size: int | None = None
    dataproduct_type: str = "image"
    access_format: str = "application/fits"
    release_date: Time | None = None
    ingested_at: Time | None = None
    provenance: dict = field(default_factory=dict)
    derived_from: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict)
    etag: str | None = None

    @property
    def center(self):
        return self.footprint.center

    @property
    def fov(self):
        """Diameter of the bounding circle (ObsCore ``s_fov``)."""
        return 2 * self.footprint.radius

    @property
    def key(self) -> tuple[str, str]:
        return (self.dataset_id, self.version)

    def content_digest(self) -> str:
        """A digest of everything a sync compares to tell a changed record from an unchanged one."""
        doc = self.summary(include_ingestion=False)
        # the cells as depth-29 uint64 ranges, whatever the store's encoding (so digests outlive migration 0008)
        doc["moc"] = hashlib.sha256(np.ascontiguousarray(self.footprint.moc.to_depth29_ranges, "<u8").tobytes()).hexdigest()
        return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()

    def citation(self) -> str:
        return cite(self)

    def summary(self, *, include_ingestion: bool = True) -> dict:
        """A JSON-ready view (degrees, metres, ISO dates)."""
        doc = {
            "id": self.dataset_id,
            "version": self.version,
            "uri": self.uri,
            "sha256": self.sha256,
            "title": self.title,
            "source": self.source,
            "s_ra": round(float(self.center.ra.deg), 8),
            "s_dec": round(float(self.center.dec.deg), 8),
            "s_fov": round(float(self.fov.deg), 8),
            "em_min": None if self.em_min is None else float(self.em_min.to_value(u.m)),
            "em_max": None if self.em_max is None else float(self.em_max.to_value(u.m)),
            "access_tier": self.access_tier,
            "size": self.size,
            "dataproduct_type": self.dataproduct_type,
            "access_format": self.access_format,
            "release_date": None if self.release_date is None else self.release_date.isot,
            "provenance": self.provenance,
            "derived_from": list(self.derived_from),
            "extra": self.extra,
            "citation": cite(self),
        }
        if include_ingestion:
            doc["ingested_at"] = None if self.ingested_at is None else self.ingested_at.isot
        return doc


def namespaced(source: str, dataset_id: str) -> str:
    """``dataset_id`` in ``source``'s namespace (``source:...``): a source never names another's datasets, so
    no source can add a version of, say, a ``vlass:`` image."""
    prefix = f"{source}:"
    return dataset_id if dataset_id.startswith(prefix) else prefix + dataset_id


def cite(record: DatasetRecord) -> str:
    """The citation an analysis must carry: title, URI, version and content hash."""
    return format_citation(record.title, record.source, record.uri, record.version, record.sha256)


def format_citation(title: str, source: str, uri: str, version: str, sha256: str | None) -> str:
    digest = f"sha256:{sha256}" if sha256 else "sha256 not yet computed"
    return f"{title}. {source}. {uri} (version {version}, {digest})"


def citation_key(record: DatasetRecord) -> str:
    """The short pin used in ``derived_from`` lists: ``uri@version``."""
    return f"{record.uri}@{record.version}"
