"""Dataset browser: region -> sources -> dataset, with the ranked table and the citation."""

from __future__ import annotations

import ipywidgets as w

from ..exceptions import VlassError
from ..federation import Region, Registry


class DatasetBrowser(w.VBox):
    """``DatasetBrowser(registry)``; after a search, ``.selected`` is the chosen :class:`Hit`."""

    def __init__(self, registry: Registry | None = None, *, region: str = "209.25,-18.0,0.5"):
        self.registry = registry or Registry()
        self.result = None
        self.region = w.Text(value=region, description="Region", placeholder="RA,Dec,radius (deg)")
        names = [s["name"] for s in self.registry.sources()]
        self.sources = w.SelectMultiple(options=names, value=tuple(names), description="Sources")
        self.button = w.Button(description="Search", icon="search", button_style="primary")
        self.datasets = w.Dropdown(options=[], description="Dataset", layout=w.Layout(width="95%"))
        self.table = w.HTML()
        self.citation = w.HTML()
        self.message = w.HTML()
        self.button.on_click(lambda _: self.search())
        self.datasets.observe(self._on_pick, names="value")
        super().__init__([w.HBox([self.region, self.button]), self.sources, self.message, self.datasets,
                          self.citation, self.table])

    def search(self):
        try:
            region = Region.parse(self.region.value)
            self.result = self.registry.search(region, sources=list(self.sources.value) or None)
        except VlassError as exc:
            self.message.value = f"<span style='color:#b00'>{_esc(exc.message)}</span>"
            return None
        self.message.value = ""
        self.table.value = self.result._repr_html_()
        self.datasets.options = [(f"{h.score:.3f}  {h.title} [{h.version}]", i) for i, h in enumerate(self.result.hits)]
        self.datasets.value = 0 if self.result.hits else None
        return self.result

    @property
    def selected(self):
        if self.result is None or self.datasets.value is None:
            return None
        return self.result.hits[self.datasets.value]

    def _on_pick(self, _change):
        hit = self.selected
        self.citation.value = f"<code>{_esc(hit.citation)}</code>" if hit else ""


def _esc(text: str) -> str:
    import html

    return html.escape(text)
