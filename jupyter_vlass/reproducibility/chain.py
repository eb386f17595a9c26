"""The chain of published analyses an export covers: the capsules asked for and every capsule they derive from
that the reader may see; and the local names every serialization of it keeps as they are."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote

from ..exceptions import InvalidArgument
from .store import UnknownAnalysis

MAX_CAPSULES = 10_000


def local_name(text: str) -> str:
    """A local name every PROV serialization keeps as it is (ids hold ``:``, ``/``, ``@`` and ``+``)."""
    return quote(str(text), safe="-._~")


def chain(store, capsule_ids: Iterable[str]) -> dict[str, dict]:
    """The summaries of ``capsule_ids`` and of every capsule they derive from that ``store`` shows the reader
    (a parent they may not see is left out; one they asked for raises :class:`UnknownAnalysis`)."""
    wanted = list(dict.fromkeys(capsule_ids))
    if not 0 < len(wanted) <= MAX_CAPSULES:
        raise InvalidArgument(f"capsules: 1 to {MAX_CAPSULES}")
    asked = set(wanted)
    for capsule_id in list(wanted):
        wanted += [p.removeprefix("capsule:") for p in store.lineage(capsule_id)
                   if p.startswith("capsule:") and p.removeprefix("capsule:") not in wanted]
    shown = {}
    for capsule_id in wanted:
        try:
            shown[capsule_id] = store.show(capsule_id)
        except UnknownAnalysis:
            if capsule_id in asked:
                raise
    return shown
