"""The contract every dataset source implements, and what a harvest yields."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, ClassVar

from ..exceptions import CorruptData
from .credentials import Credentials
from .records import DatasetRecord
from .region import Region


@dataclass(frozen=True)
class Unchanged:
    """The item at ``uri`` has the same etag as the registry's copy: keep the stored row."""

    uri: str


@dataclass(frozen=True)
class Skipped:
    """An item that could not be read (corrupt file, bad manifest entry): reported, not fatal."""

    uri: str
    reason: str


HarvestItem = DatasetRecord | Unchanged | Skipped


@dataclass(frozen=True)
class Candidate:
    """An item a source found: ``read()`` builds its record, and is only called when ``etag``
    differs from the registry's copy. ``read`` raises ``CorruptData`` for an unreadable item."""

    uri: str
    etag: str
    read: Callable[[], DatasetRecord]


class Source(ABC):
    """A place datasets come from.

    A *harvested* source (``live = False``) is listed by :meth:`harvest` during ``sync`` and
    searched through the registry's footprint index. A *live* source (``live = True``,
    e.g. an IVOA SIA2 service) is asked at search time through :meth:`query`.

    Sources raise :mod:`jupyter_vlass.exceptions` errors (``SourceUnavailable``,
    ``SourceUnauthorized``, ``CorruptData``...); the registry turns them into per-source
    status so one failing source never sinks a query.
    """

    kind: ClassVar[str]
    live: ClassVar[bool] = False
    # The kind's own options, name -> parser (federation/options.py); the common ones come on top.
    OPTIONS: ClassVar[Mapping[str, Callable[[object], object]]] = {}

    def __init__(self, name: str, uri: str, *, options: Mapping | None = None,
                 credentials: Credentials | None = None):
        self.name = name
        self.uri = uri
        self.options = dict(options or {})
        self.credentials = credentials or Credentials()

    def fingerprint(self) -> str | None:
        """A cheap token that changes when the source's content may have changed (a manifest
        digest, a listing's etag). ``None`` means "unknown: always harvest"."""
        return None

    def harvest(self, known: Mapping[str, str]) -> Iterator[HarvestItem]:
        """Yield every dataset version the source holds.

        ``known`` maps item URIs to the etag the registry stored: those are :class:`Unchanged`,
        not re-read; an item that cannot be read is :class:`Skipped` with the reason.
        """
        for item in self.candidates():
            if isinstance(item, Skipped):
                yield item
            elif known.get(item.uri) == item.etag:
                yield Unchanged(item.uri)
            else:
                try:
                    yield item.read()
                except CorruptData as exc:
                    yield Skipped(item.uri, exc.message)

    def candidates(self) -> Iterator[Candidate | Skipped]:
        """Every item of a harvested source (live sources do not harvest)."""
        raise NotImplementedError(f"{self.kind} sources are queried live, not harvested")

    def query(self, region: Region, *, timeout: float) -> list[DatasetRecord]:
        """Records overlapping ``region`` (live sources only). Must give up after ``timeout`` s."""
        raise NotImplementedError(f"{self.kind} sources are harvested, not queried live")

    @abstractmethod
    def open(self, record: DatasetRecord) -> IO[bytes]:
        """A binary file object over the dataset's bytes."""

    def describe(self) -> dict:
        """Public description (never includes credentials)."""
        return {"name": self.name, "kind": self.kind, "uri": self.uri, "live": self.live,
                "options": {k: v for k, v in self.options.items() if k not in SECRET_OPTION_KEYS}}


SECRET_OPTION_KEYS = frozenset({"key", "secret", "token", "password"})
