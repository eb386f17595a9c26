"""Conversion between :class:`DatasetRecord` and registry rows."""

from __future__ import annotations


import astropy.units as u
from astropy.coordinates import Angle, SkyCoord
from astropy.time import Time

from ..store import DatasetRow
from .footprints import Footprint
from .index import index_cell
from .records import DatasetRecord


def row_values(record: DatasetRecord) -> dict:
    order, cell = index_cell(record.footprint)
    return {
        "dataset_id": record.dataset_id,
        "version": record.version,
        "source": record.source,
        "uri": record.uri,
        "sha256": record.sha256,
        "title": record.title,
        "s_ra": float(record.center.ra.deg),
        "s_dec": float(record.center.dec.deg),
        "radius_deg": float(record.footprint.radius.deg),
        "moc_depth": record.footprint.depth,
        "moc": record.footprint.to_bytes(),
        "moc_cells": record.footprint.cells,
        "index_order": order,
        "index_cell": cell,
        "em_min": None if record.em_min is None else float(record.em_min.to_value(u.m)),
        "em_max": None if record.em_max is None else float(record.em_max.to_value(u.m)),
        "access_tier": record.access_tier,
        "size": record.size,
        "dataproduct_type": record.dataproduct_type,
        "access_format": record.access_format,
        "release_date": None if record.release_date is None else record.release_date.isot,
        "provenance": record.provenance,
        "derived_from": list(record.derived_from),
        "extra": record.extra,
        "etag": record.etag,
        "digest": record.content_digest(),
    }


def row_to_record(row: DatasetRow) -> DatasetRecord:
    footprint = Footprint(
        Footprint.moc_from_bytes(row.moc_depth, row.moc),
        SkyCoord(row.s_ra * u.deg, row.s_dec * u.deg, frame="icrs"),
        Angle(row.radius_deg, u.deg),
    )
    return DatasetRecord(
        dataset_id=row.dataset_id,
        version=row.version,
        uri=row.uri,
        sha256=row.sha256,
        title=row.title,
        source=row.source,
        footprint=footprint,
        em_min=None if row.em_min is None else row.em_min * u.m,
        em_max=None if row.em_max is None else row.em_max * u.m,
        access_tier=row.access_tier,
        size=row.size,
        dataproduct_type=row.dataproduct_type,
        access_format=row.access_format,
        release_date=None if row.release_date is None else Time(row.release_date),
        ingested_at=Time(row.ingested_at),
        provenance=row.provenance or {},
        derived_from=tuple(row.derived_from or ()),
        extra=row.extra or {},
        etag=row.etag,
    )
