"""Ranking: region coverage, measured access speed of the source, version recency.

``score = w_coverage * coverage + w_speed * speed + w_recency * recency``, each part in [0, 1]
and returned with the hit so users can see why one dataset ranks above another.

:func:`rank_page` scores every match at once with numpy and builds :class:`Hit` objects for the requested
page only: a 5 degree cone over 10^7 footprints matches ~28,000 versions, and one Python object per match
cost more than finding them. Exactly the order of a full sort by ``(-score, dataset_id, version)``: the page
is cut from the matches scoring at least the page's last score (ties included), sorted by that key.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .results import Hit

SPEED_SCALE_S = 0.25


@dataclass(frozen=True)
class Weights:
    coverage: float = 0.6
    speed: float = 0.2
    recency: float = 0.2


def version_key(version: str):
    """Natural order: v2 > v1, 1.10.0 > 1.9.0."""
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", version) if p]


def speed_score(latency_s: float | None) -> float:
    if latency_s is None:
        return 0.5
    return 1.0 / (1.0 + latency_s / SPEED_SCALE_S)


@dataclass
class Matches:
    """What a search matched, as columns: ``hit(i)`` builds match ``i``'s :class:`Hit` (without score);
    ``prepare(indices)``, when given, is called once with the page's matches before their hits are built (to
    read their rows at once)."""

    dataset_ids: list[str]
    versions: list[str]
    sources: list[str]
    coverage: np.ndarray
    hit: Callable[[int], Hit]
    prepare: Callable[[list[int]], None] | None = None

    def __len__(self) -> int:
        return len(self.dataset_ids)


def _recency(matches: Matches) -> np.ndarray:
    """``0.5 ** (versions of the same dataset newer than this one, among the matches)``."""
    recency = np.ones(len(matches))
    repeated = {d for d, n in Counter(matches.dataset_ids).items() if n > 1}
    if repeated:
        versions = defaultdict(set)
        at = [i for i, d in enumerate(matches.dataset_ids) if d in repeated]
        for i in at:
            versions[matches.dataset_ids[i]].add(matches.versions[i])
        newer = {d: {v: k for k, v in enumerate(sorted(vs, key=version_key, reverse=True))} for d, vs in versions.items()}
        for i in at:
            recency[i] = 0.5 ** newer[matches.dataset_ids[i]][matches.versions[i]]
    return recency


def rank_page(matches: Matches, latencies: dict[str, float | None], weights: Weights = Weights(),
              start: int = 0, stop: int | None = None) -> list[Hit]:
    """Hits ``start:stop`` of the ranking of ``matches`` (all of them when ``stop`` is None), scored."""
    n = len(matches)
    stop = n if stop is None else min(stop, n)
    if stop <= start:
        return []
    speed_of = {s: speed_score(latencies.get(s)) for s in set(matches.sources)}
    speed = np.fromiter((speed_of[s] for s in matches.sources), float, n)
    recency = _recency(matches)
    coverage = np.asarray(matches.coverage, float)
    score = weights.coverage * coverage + weights.speed * speed + weights.recency * recency
    if stop < n:  # the matches scoring at least the page's last score (ties included)
        floor = -np.partition(-score, stop - 1)[stop - 1]
        pool = np.flatnonzero(score >= floor).tolist()
    else:
        pool = range(n)
    ids, versions = matches.dataset_ids, matches.versions
    order = sorted(pool, key=lambda i: (-score[i], ids[i], versions[i]))[start:stop]
    if matches.prepare is not None:
        matches.prepare(order)
    hits = []
    for i in order:
        hit = matches.hit(i)
        hit.parts = {"coverage": float(coverage[i]), "speed": float(speed[i]), "recency": float(recency[i])}
        hit.score = float(score[i])
        hits.append(hit)
    return hits


def rank(hits: list[Hit], latencies: dict[str, float | None], weights: Weights = Weights()) -> list[Hit]:
    """Every hit, scored and in ranking order (:func:`rank_page` over hits already built)."""
    matches = Matches([h.dataset_id for h in hits], [h.version for h in hits], [h.source for h in hits],
                      np.fromiter((h.coverage for h in hits), float, len(hits)), hits.__getitem__)
    return rank_page(matches, latencies, weights)
