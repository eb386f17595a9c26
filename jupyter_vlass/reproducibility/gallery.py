"""The gallery of a hub's published analyses: each capsule with its standing (verified, Updated, Retracted, or a
signature that no longer verifies), its independent replays and its forks; found by dataset, model, author and
status, with facet counts, newest, most reproduced or most controversial first, a page at a time.

Pure over what it is given: the analyses a reader may see (:meth:`~.store.CapsuleStore.list`'s summaries) and a
``standing`` of each (the hub service's signature check and marks, followed through the lineage).
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..exceptions import InvalidArgument, VlassError
from ..federation.region import Region

SORTS = ("newest", "most_reproduced", "controversial")
STATUSES = ("verified", "updated", "retracted", "unverified", "failed")
MAX_LIMIT = 100


@dataclass(frozen=True)
class GalleryQuery:
    """``region``: entries that read a dataset version overlapping it; ``dataset``: an id or ``id@version``;
    ``model``: a name or ``name@version``; ``author``: a hub user."""

    region: Region | None = None
    dataset: str | None = None
    model: str | None = None
    author: str | None = None
    status: str | None = None
    sort: str = "newest"
    limit: int = 20
    offset: int = 0

    @classmethod
    def from_params(cls, get: Callable[[str], str | None]) -> GalleryQuery:
        """The query of a request's parameters (``get(name)``), each checked by name."""
        texts = {name: get(name) for name in ("dataset", "model", "author")}
        for name, text in texts.items():
            if text is not None and not 0 < len(text) <= 512:
                raise InvalidArgument(f"{name}: 1 to 512 characters")
        region = Region.parse(get("region")) if get("region") is not None else None
        status, sort = get("status"), get("sort") or "newest"
        if status is not None and status not in STATUSES:
            raise InvalidArgument(f"status: one of {', '.join(STATUSES)}")
        if sort not in SORTS:
            raise InvalidArgument(f"sort: one of {', '.join(SORTS)}")
        return cls(region=region, **texts, status=status, sort=sort, limit=_whole(get("limit"), "limit", 20, 1, MAX_LIMIT),
                   offset=_whole(get("cursor"), "cursor", 0, 0, 10**9))


def _whole(text: str | None, name: str, default: int, low: int, high: int) -> int:
    if text is None:
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        raise InvalidArgument(f"{name}: a whole number from {low} to {high}")
    return int(text)


def standing_of(signature_verifies: bool, marks: list[dict], *, failed: bool) -> str:
    """One entry's status: a signature that does not verify overrides everything, then a retraction."""
    if not signature_verifies:
        return "unverified"
    if failed:
        return "failed"
    kinds = {m["mark"] for m in marks}
    return "retracted" if "Retracted" in kinds else "updated" if "Updated" in kinds else "verified"


def entries(analyses: list[dict], standing: Callable[[dict], dict]) -> list[dict]:
    """Every analysis with its standing (``standing(analysis)``: ``{verifies, marks, disagreement}``, the last how
    split the experts' votes are on the consensus of its datasets, 0 to 1, 0 without votes), its independent replays
    (completed, verifying, same inputs and parameters, by users other than the author, once per user; and how
    many of those gave the same output bytes), its forks (derived with other inputs or parameters) and the ids of
    everything derived from it (what a retraction's tombstone names); ``newer``: those its own author published
    later (a newer version of the same analysis, newest first)."""
    stood = {a["id"]: standing(a) for a in analyses}
    by_id = {a["id"]: a for a in analyses}
    replayers, identical, forks, derived = defaultdict(set), defaultdict(set), Counter(), defaultdict(list)
    for child in analyses:
        parent = by_id.get(child["parent"] or "")
        if parent is None:
            continue
        derived[parent["id"]].append(child["id"])
        if (child["inputs"], child["parameters"]) != (parent["inputs"], parent["parameters"]):
            forks[parent["id"]] += 1
        elif child["status"] == "completed" and child["owner"] != parent["owner"] and stood[child["id"]]["verifies"]:
            replayers[parent["id"]].add(child["owner"])
            if child["outputs"] == parent["outputs"]:
                identical[parent["id"]].add(child["owner"])
    found = []
    for analysis in analyses:
        state = stood[analysis["id"]]
        found.append({**analysis, "status": standing_of(state["verifies"], state["marks"],
                                                        failed=analysis["status"] == "failed"),
                      "marks": state["marks"], "replays": len(replayers[analysis["id"]]),
                      "identical_replays": len(identical[analysis["id"]]), "forks": forks[analysis["id"]],
                      "derived": derived[analysis["id"]], "disagreement": state.get("disagreement", 0.0),
                      "newer": sorted((c for c in derived[analysis["id"]] if by_id[c]["owner"] == analysis["owner"]
                                       and (by_id[c]["published"] or "") > (analysis["published"] or "")),
                                      key=lambda c: by_id[c]["published"] or "", reverse=True)})
    return found


def _matches(entry: dict, query: GalleryQuery, in_region: set | None, *, skip: str | None = None) -> bool:
    pins = entry["inputs"] + entry["opened"]
    if in_region is not None and not any((p["id"], p["version"]) in in_region for p in pins):
        return False
    model = entry.get("model") or {}
    checks = {
        "dataset": lambda q: any(q in (p["id"], f"{p['id']}@{p['version']}") for p in pins),
        "model": lambda q: bool(model) and q in (model.get("name"), f"{model.get('name')}@{model.get('version')}"),
        "author": lambda q: entry["owner"] == q,
        "status": lambda q: entry["status"] == q,
    }
    return all(getattr(query, name) is None or check(getattr(query, name))
               for name, check in checks.items() if name != skip)


def search(found: list[dict], query: GalleryQuery, in_region: set[tuple[str, str]] | None = None) -> dict:
    """A page of :func:`entries` for ``query``: ``{entries, total, facets, next_cursor}``. Each facet counts the
    entries matching every other filter (as search engines' facets do). ``in_region``: the ``(id, version)``
    of every dataset version in ``query.region`` (the registry's search answers it, from its index)."""
    if query.region is not None and in_region is None:
        raise ValueError("a region query needs the dataset versions in the region")
    matching = [e for e in found if _matches(e, query, in_region)]
    matching.sort(key=lambda e: (e["published"] or "", e["id"]), reverse=True)  # newest; the tie-break of the others
    if query.sort == "most_reproduced":
        matching.sort(key=lambda e: e["replays"], reverse=True)
    elif query.sort == "controversial":  # the most split votes, then the most marks (disputed after publication)
        matching.sort(key=lambda e: (e["disagreement"], len(e["marks"])), reverse=True)
    page = matching[query.offset:query.offset + query.limit]
    facets = {
        "status": Counter(e["status"] for e in found if _matches(e, query, in_region, skip="status")),
        "author": Counter(e["owner"] for e in found if _matches(e, query, in_region, skip="author")),
        "model": Counter((e.get("model") or {}).get("name") for e in found
                         if _matches(e, query, in_region, skip="model") and e.get("model")),
        "dataset": Counter(p["id"] for e in found if _matches(e, query, in_region, skip="dataset")
                           for p in {p["id"]: p for p in e["inputs"] + e["opened"]}.values()),
    }
    following = query.offset + query.limit
    return {"entries": page, "total": len(matching),
            "facets": {name: dict(counts.most_common()) for name, counts in facets.items()},
            "next_cursor": str(following) if following < len(matching) else None}


class SignatureChecks:
    """Whether each stored capsule still verifies, checked again only when one of its files changed (its
    sizes and times, which nobody sets back unseen: the inode change time moves with any write)."""

    def __init__(self, keyring):
        self._keyring = keyring
        self._seen: dict[str, tuple[tuple, bool]] = {}

    def verifies(self, folder: Path) -> bool:
        from .verify import verify

        stamp = _stamp(folder)
        known = self._seen.get(str(folder))
        if known is not None and known[0] == stamp:
            return known[1]
        try:
            verify(folder, keyring=self._keyring)
            ok = True
        except VlassError:  # changed, truncated, or signed by a key this site never had
            ok = False
        self._seen[str(folder)] = (stamp, ok)
        return ok

    @property
    def checked(self) -> int:
        """How many capsules' signatures are known (checked once, and again only when a file changed)."""
        return len(self._seen)

    def warm(self, store) -> int:
        """Check every capsule of ``store`` now (at a service's start, so that its first gallery page is not the
        one that waits for them all); how many."""
        for analysis in store.list():
            self.verifies(store.path(analysis["id"]))
        return self.checked


def _stamp(folder: Path) -> tuple:
    """Every entry under ``folder`` (links not followed) with its size and times, sorted."""
    found = []
    for parent, folders, files in os.walk(folder):
        for name in folders + files:
            path = os.path.join(parent, name)
            s = os.lstat(path)
            found.append((os.path.relpath(path, folder), s.st_size, s.st_mtime_ns, s.st_ctime_ns))
    return tuple(sorted(found))
