"""Federated dataset discovery: sources, the registry, region search, versions and lineage.

>>> from astropy.coordinates import SkyCoord
>>> import astropy.units as u
>>> from jupyter_vlass.federation import Registry, Region
>>> reg = Registry()                                                         # doctest: +SKIP
>>> hits = reg.search(Region.cone(SkyCoord(210 * u.deg, -19 * u.deg), 0.5 * u.deg))  # doctest: +SKIP
"""

from .base import Skipped, Source, Unchanged
from .credentials import Credentials, resolve_credentials
from .footprints import Footprint, image_metadata
from .ranking import Weights
from .records import DatasetRecord, cite, citation_key
from .region import Region
from .registry import Registry
from .results import Hit, SearchResult, SourceStatus
from .sync import SyncReport

__all__ = [
    "Credentials", "DatasetRecord", "Footprint", "Hit", "Region", "Registry", "SearchResult", "Skipped",
    "Source", "SourceStatus", "SyncReport", "Unchanged", "Weights", "cite", "citation_key",
    "image_metadata", "resolve_credentials", "search",
]


def search(region: Region, *, sources=None, deadline=None, db: str | None = None, **kwargs):
    """Search the default registry (``JUPYTER_VLASS_DB`` or the user's SQLite file)."""
    registry = Registry(db)
    if deadline is not None:
        kwargs["deadline"] = deadline
    return registry.search(region, sources=sources, **kwargs)
