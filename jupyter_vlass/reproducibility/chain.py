"""The chain of published analyses an export covers: the capsules asked for and every capsule they derive from
that the reader may see, the dataset versions they read and their origins; and the local names every
serialization of it keeps as they are."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote

from ..exceptions import InvalidArgument, UnknownDataset
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


class Origins:
    """The dataset versions a chain read and those they derive from, as the reader's registry shows them (a
    :class:`~jupyter_vlass.federation.registry.Registry` view: ``describe``, ``ancestors``); without a registry,
    only what the capsules themselves say."""

    def __init__(self, view=None):
        self._view, self._described = view, {}

    def _versions(self, dataset_id: str) -> list[dict]:
        if dataset_id not in self._described:
            try:
                self._described[dataset_id] = self._view.describe(dataset_id)["versions"] if self._view else []
            except UnknownDataset:  # removed from the registry, or not the reader's to see
                self._described[dataset_id] = []
        return self._described[dataset_id]

    def version(self, pin: str) -> dict | None:
        """The registry's entry of ``pin`` (``id@version``): citation, withdrawal, ``derived_from_resolved``."""
        dataset_id, _, version = pin.rpartition("@")
        return next((v for v in self._versions(dataset_id) if v["version"] == version), None)

    def previous(self, pin: str) -> dict | None:
        """The version registered before ``pin`` (the registry lists them newest first)."""
        dataset_id, _, version = pin.rpartition("@")
        versions = self._versions(dataset_id)
        at = next((i for i, v in enumerate(versions) if v["version"] == version), None)
        return versions[at + 1] if at is not None and at + 1 < len(versions) else None

    def walk(self, pins: Iterable[str]) -> list[str]:
        """``pins`` and every version they derive from that the reader may see, nearest first."""
        pins = list(dict.fromkeys(pins))
        if self._view is None or not pins:
            return pins
        return pins + [pin for pin, visible in self._view.ancestors(pins) if visible and pin not in pins]

    @staticmethod
    def parents(entry: dict) -> list[str]:
        """The versions ``entry`` derives from, as pins, that the reader may see and the registry holds."""
        return [f"{p['id']}@{p['version']}" for p in entry.get("derived_from_resolved", [])
                if not p.get("restricted") and p.get("id") is not None]
