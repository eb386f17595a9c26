"""The Aladin view a user moved last, for the search sidebar's "use the current Aladin view".

Every offline Aladin widget (:mod:`.overlay`) is watched: the one whose centre or field of view changed
last, or that was made last, is the current view. The sidebar asks the notebook's kernel for
``current_view()`` as a silent user expression and reads its JSON.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import astropy.units as u
from astropy.coordinates import SkyCoord

from ..federation import Region

_last: weakref.ref | None = None


@dataclass(frozen=True)
class AladinView:
    """Where an Aladin view looks: its centre (ICRS) and field of view (its width)."""

    center: SkyCoord
    fov: u.Quantity

    def region(self) -> Region:
        """The cone the view's width spans."""
        return Region.cone(self.center, min(self.fov.to_value(u.deg) / 2, 180.0) * u.deg)

    def _repr_json_(self) -> dict:
        return {"ra": float(self.center.icrs.ra.deg), "dec": float(self.center.icrs.dec.deg),
                "fov": float(self.fov.to_value(u.deg))}


def watch(aladin) -> None:
    """Make ``aladin`` the current view now and whenever its centre or field of view changes."""
    global _last
    _last = weakref.ref(aladin)
    aladin.observe(_moved, names=["_target", "_fov"])


def _moved(change) -> None:
    global _last
    _last = weakref.ref(change["owner"])


def current_view() -> AladinView | None:
    """The view moved or made last in this kernel, or None when there is none (or it was closed)."""
    aladin = _last() if _last is not None else None
    if aladin is None or getattr(aladin, "comm", None) is None:
        return None
    ra, dec = (float(v) for v in aladin._target.split())
    return AladinView(SkyCoord(ra * u.deg, dec * u.deg, frame="icrs"), float(aladin._fov) * u.deg)
