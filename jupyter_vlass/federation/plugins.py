"""Source plugins, discovered through the ``jupyter_vlass.sources`` entry-point group."""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from ..exceptions import InvalidSource
from .base import Source

GROUP = "jupyter_vlass.sources"


@cache
def source_kinds() -> dict[str, type[Source]]:
    kinds = {}
    for ep in entry_points(group=GROUP):
        cls = ep.load()
        if isinstance(cls, type) and issubclass(cls, Source):
            kinds[ep.name] = cls
    return kinds


def source_class(kind: str) -> type[Source]:
    kinds = source_kinds()
    if kind not in kinds:
        raise InvalidSource(f"unknown source kind {kind!r} (known: {', '.join(sorted(kinds))})")
    return kinds[kind]
