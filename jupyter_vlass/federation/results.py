"""What a search returns: ranked hits plus the status of every source asked."""

from __future__ import annotations

import html
from dataclasses import dataclass, field

from .records import format_citation

@dataclass
class SourceStatus:
    name: str
    status: str
    elapsed_s: float = 0.0
    count: int = 0
    message: str | None = None
    retry_after: float | None = None
    # A harvested source whose last sync failed: its datasets come from the metadata synced at ``synced_at``.
    stale: bool = False
    synced_at: str | None = None

    def to_json(self) -> dict:
        doc = {"name": self.name, "status": self.status, "elapsed_s": round(self.elapsed_s, 4), "count": self.count}
        if self.message:
            doc["message"] = self.message
        if self.retry_after is not None:
            doc["retry_after"] = round(self.retry_after, 3)
        if self.stale:
            doc["stale"] = True
            doc["synced_at"] = self.synced_at
        return doc


@dataclass
class Hit:
    """One dataset version matching the region, with its score and the score's parts."""

    dataset_id: str
    version: str
    source: str
    uri: str
    sha256: str | None
    title: str
    s_ra: float
    s_dec: float
    s_fov: float
    access_tier: str
    coverage: float
    footprint_fraction: float
    score: float = 0.0
    parts: dict = field(default_factory=dict)
    record: object = field(default=None, repr=False, compare=False)  # set for live-source hits

    @property
    def citation(self) -> str:
        return format_citation(self.title, self.source, self.uri, self.version, self.sha256)

    def to_json(self) -> dict:
        return {
            "id": self.dataset_id, "version": self.version, "source": self.source, "uri": self.uri,
            "sha256": self.sha256, "title": self.title, "s_ra": self.s_ra, "s_dec": self.s_dec,
            "s_fov": self.s_fov, "access_tier": self.access_tier, "score": round(self.score, 6),
            "score_parts": {k: round(v, 6) for k, v in self.parts.items()},
            "coverage": round(self.coverage, 6), "footprint_fraction": round(self.footprint_fraction, 6),
            "citation": self.citation,
        }


@dataclass
class SearchResult:
    region: object
    hits: list[Hit]
    sources: list[SourceStatus]
    elapsed_s: float
    total: int | None = None  # with paging: every overlapping version, of which ``hits`` is one page
    offset: int = 0
    next_cursor: str | None = None

    def __len__(self) -> int:
        return len(self.hits)

    def __iter__(self):
        return iter(self.hits)

    def __getitem__(self, index):
        return self.hits[index]

    @property
    def ok(self) -> bool:
        return all(s.status == "ok" for s in self.sources)

    def status_of(self, name: str) -> SourceStatus:
        return next(s for s in self.sources if s.name == name)

    def to_json(self) -> dict:
        return {
            "region": self.region.as_json(),
            "elapsed_s": round(self.elapsed_s, 4),
            "sources": [s.to_json() for s in self.sources],
            "datasets": [h.to_json() for h in self.hits],
            "total": len(self.hits) if self.total is None else self.total,
            "offset": self.offset,
            "next_cursor": self.next_cursor,
        }

    def _repr_html_(self) -> str:
        esc = html.escape
        status = " ".join(
            f"<span title='{esc(s.message or '')}'><b>{esc(s.name)}</b>: {esc(s.status)} ({s.count})"
            f"{' stale, synced ' + esc(s.synced_at or 'never') if s.stale else ''}</span>"
            for s in self.sources
        )
        rows = "".join(
            f"<tr><td>{i}</td><td>{h.score:.3f}</td><td>{esc(h.source)}</td><td>{esc(h.title)}</td>"
            f"<td>{esc(h.version)}</td><td>{h.coverage:.1%}</td><td>{h.s_ra:.4f}</td><td>{h.s_dec:.4f}</td>"
            f"<td><code>{esc((h.sha256 or '')[:12])}</code></td></tr>"
            for i, h in enumerate(self.hits)
        )
        return (
            f"<div class='jupyter-vlass-results'><p>{len(self.hits)} dataset versions in "
            f"{esc(str(self.region))} (deg) in {self.elapsed_s * 1000:.0f} ms. {status}</p>"
            "<table><thead><tr><th>#</th><th>score</th><th>source</th><th>title</th><th>version</th>"
            "<th>region covered</th><th>RA</th><th>Dec</th><th>sha256</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></div>"
        )
