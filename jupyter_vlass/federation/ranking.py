"""Ranking: region coverage, measured access speed of the source, version recency.

``score = w_coverage * coverage + w_speed * speed + w_recency * recency``, each part in [0, 1]
and returned with the hit so users can see why one dataset ranks above another.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

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


def rank(hits: list[Hit], latencies: dict[str, float | None], weights: Weights = Weights()) -> list[Hit]:
    versions = defaultdict(list)
    for hit in hits:
        versions[hit.dataset_id].append(hit.version)
    newer_count = {}
    for dataset_id, vs in versions.items():
        ordered = sorted(set(vs), key=version_key, reverse=True)
        for i, v in enumerate(ordered):
            newer_count[(dataset_id, v)] = i
    for hit in hits:
        recency = 0.5 ** newer_count[(hit.dataset_id, hit.version)]
        speed = speed_score(latencies.get(hit.source))
        hit.parts = {"coverage": hit.coverage, "speed": speed, "recency": recency}
        hit.score = weights.coverage * hit.coverage + weights.speed * speed + weights.recency * recency
    return sorted(hits, key=lambda h: (-h.score, h.dataset_id, h.version))
