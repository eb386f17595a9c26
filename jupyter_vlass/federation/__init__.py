"""Federated dataset discovery: sources, the registry, region search, versions and lineage.

>>> from astropy.coordinates import SkyCoord
>>> import astropy.units as u
>>> from jupyter_vlass.federation import Registry, Region
>>> reg = Registry()                                                         # doctest: +SKIP
>>> hits = reg.search(Region.cone(SkyCoord(210 * u.deg, -19 * u.deg), 0.5 * u.deg))  # doctest: +SKIP
"""

from __future__ import annotations

from ..lazy import lazy_exports

# Exported names and their modules, imported on first use: a Jupyter server that loads the extension
# should not pay for astropy, MOCs and SQLAlchemy before the first search.
_EXPORTS = {
    "Skipped": "base", "Source": "base", "Unchanged": "base", "Credentials": "credentials",
    "resolve_credentials": "credentials", "Footprint": "footprints", "image_metadata": "footprints",
    "Weights": "ranking", "DatasetRecord": "records", "cite": "records", "citation_key": "records",
    "Region": "region", "Registry": "registry", "Hit": "results", "SearchResult": "results",
    "SourceStatus": "results", "SyncReport": "sync",
}
__all__ = sorted([*_EXPORTS, "search"])


__getattr__ = lazy_exports(__name__, _EXPORTS)


def search(region, *, sources=None, deadline=None, db: str | None = None, **kwargs):
    """Search the default registry (``JUPYTER_VLASS_DB`` or the user's SQLite file) around a :class:`Region`."""
    from .registry import Registry  # on first use, as the exports above are

    registry = Registry(db)
    if deadline is not None:
        kwargs["deadline"] = deadline
    return registry.search(region, sources=sources, **kwargs)
