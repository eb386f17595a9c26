"""A page of ranked search results without measuring every candidate, and still the true page.

``score = w_coverage·coverage + w_speed·speed + w_recency·recency`` (:mod:`.ranking`). Before any footprint
is read, each candidate (a footprint whose bounding circle, radius ``r`` around its centre at distance ``d``
from the cone's centre, meets the cone of radius ``R``) gets an upper bound on its score:

* coverage ≤ min(1, A(r + δ) / A(R)), ``A(x) = 2π(1 − cos x)`` the area of a spherical cap: coverage is
  measured on MOCs, and the footprint's MOC lies within its circle widened by ``δ``, two cell sides at the
  MOC's depth (a MOC keeps every cell the footprint touches), while the cone's MOC is at least the cone;
* recency ≤ 0.5^k, with ``k`` the newer versions of the same dataset that certainly overlap the cone (their
  whole circle inside it, ``d + r ≤ R``);
* speed is known: the source's measured latency.

The candidates with the highest bounds are measured first, a dataset's versions together (so recency is
exact), in reads that double in size. Once the (offset + limit)-th best exact score is above the largest
bound not yet measured, no unmeasured candidate can reach the page: it is the page a full sort would give
(ties ordered by dataset id and version, as the full sort orders them). ``tests/federation/test_paging.py`` checks this against a full
sort. The **total** is exact too: candidates whose circle lies inside the cone overlap it without being read;
the others (the rim) are read and measured.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections import defaultdict

import numpy as np

from ..exceptions import InvalidArgument
from .index import CoverageMeter, angular_distance_deg
from .ranking import Weights, rank, speed_score, version_key
from .region import Region

BATCH = 64
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def cap_area(radius_deg) -> np.ndarray:
    return 2 * np.pi * (1 - np.cos(np.radians(np.minimum(radius_deg, 180.0))))


def _search_key(region: Region, sources) -> str:
    return hashlib.sha256(f"{region}|{','.join(sorted(sources or []))}".encode()).hexdigest()[:16]


def encode_cursor(offset: int, region: Region, sources) -> str:
    doc = json.dumps({"o": offset, "k": _search_key(region, sources)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(doc.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, region: Region, sources) -> int:
    """The offset a cursor of this search points at (0 for none); a cursor of another search is refused."""
    if cursor is None:
        return 0
    try:
        doc = json.loads(base64.urlsafe_b64decode(str(cursor) + "=" * (-len(str(cursor)) % 4)))
        offset, key = int(doc["o"]), doc["k"]
    except (ValueError, TypeError, KeyError):
        raise InvalidArgument("cursor: not a cursor this search gave") from None
    if key != _search_key(region, sources) or not 0 <= offset < 10**9:
        raise InvalidArgument("cursor: it belongs to another search (region or sources differ)")
    return offset


def check_limit(limit) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit <= MAX_LIMIT:
        raise InvalidArgument(f"limit: a whole number from 0 to {MAX_LIMIT}")
    return limit


def bounds(candidates: list, region: Region, latencies: dict, weights: Weights) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(near, inside, bound)`` per candidate row (``s_ra, s_dec, radius_deg, dataset_id, version, source``)."""
    n = len(candidates)
    ra = np.fromiter((c.s_ra for c in candidates), float, n)
    dec = np.fromiter((c.s_dec for c in candidates), float, n)
    rad = np.fromiter((c.radius_deg for c in candidates), float, n)
    depth = np.fromiter((c.moc_depth for c in candidates), float, n)
    cell_deg = np.degrees(np.sqrt(4 * np.pi / (12 * 4.0 ** depth)))
    d = angular_distance_deg(region.ra_deg, region.dec_deg, ra, dec)
    near = d <= region.radius_deg + rad + 1e-9
    inside = near & (d + rad <= region.radius_deg - 1e-9)
    coverage = np.minimum(1.0, cap_area(rad + 2 * cell_deg) / cap_area(region.radius_deg))
    newer_inside = np.zeros(n)
    versions = defaultdict(list)
    for i, c in enumerate(candidates):
        if near[i]:
            versions[c.dataset_id].append(i)
    for members in versions.values():
        ordered = sorted(members, key=lambda i: version_key(candidates[i].version), reverse=True)
        certain = 0
        for i in ordered:
            newer_inside[i] = certain
            certain += bool(inside[i])
    speed = np.fromiter((speed_score(latencies.get(c.source)) for c in candidates), float, n)
    bound = weights.coverage * coverage + weights.speed * speed + weights.recency * 0.5 ** newer_inside
    return near, inside, bound


def top(candidates: list, region: Region, meter: CoverageMeter, latencies: dict, weights: Weights, *,
        needed: int, read) -> tuple[list, dict[str, int]]:
    """``(ranked hits, totals)``: at least the best ``needed`` hits in their true order (more may follow), and
    per source how many candidates overlap ``region``. ``read(rows) -> hits`` reads and measures rows."""
    if not candidates:
        return [], {}
    near, inside, bound = bounds(candidates, region, latencies, weights)
    groups = defaultdict(list)
    for i in np.flatnonzero(near):
        groups[candidates[i].dataset_id].append(int(i))
    order = sorted(np.flatnonzero(near), key=lambda i: -bound[i])
    # The most promising candidates first, in reads that double in size until the page is settled (a few
    # reads, however little the bounds prune).
    done, hits, position, size = set(), [], 0, max(2 * needed, BATCH)
    while True:
        batch = []
        while position < len(order) and len(batch) < size:
            dataset = candidates[order[position]].dataset_id
            if dataset not in done:
                done.add(dataset)
                batch.extend(groups[dataset])
            position += 1
        hits += read([candidates[i] for i in batch]) if batch else []
        ranked = rank(hits, latencies, weights)
        rest = [bound[i] for i in order[position:] if candidates[i].dataset_id not in done]
        if not rest or (len(ranked) >= needed and (needed == 0 or ranked[needed - 1].score > max(rest) + 1e-9)):
            break
        size *= 2
    unread = [i for i in np.flatnonzero(near) if candidates[i].dataset_id not in done]
    rim = [candidates[i] for i in unread if not inside[i]]
    totals: dict[str, int] = defaultdict(int)
    for hit in hits + (read(rim) if rim else []):
        totals[hit.source] += 1
    for i in unread:
        if inside[i]:
            totals[candidates[i].source] += 1
    return ranked, dict(totals)
