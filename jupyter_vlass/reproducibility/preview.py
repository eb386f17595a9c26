"""A capsule's executed notebook as read-only HTML for the gallery (nbconvert's ``basic`` body, as nbviewer
renders notebooks), every Markdown cell and HTML output cleaned by bleach: no script, no event handler, no
style sheet, links only to http(s) and mail, images only from the notebook's own ``data:image/`` bytes.
Whatever the notebook holds, the page that shows it adds a Content-Security-Policy of its own (:data:`POLICY`)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from .layout import NOTEBOOK

POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'self'"
TAGS = ["a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt", "em", "h1", "h2", "h3", "h4",
        "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "s", "span", "strong", "sub", "sup", "table",
        "tbody", "td", "tfoot", "th", "thead", "tr", "ul"]


def _attribute(tag: str, name: str, value: str) -> bool:
    if name in ("class", "title", "colspan", "rowspan", "align"):
        return True
    if tag == "a" and name == "href":
        return value.startswith(("http://", "https://", "mailto:", "#"))
    if tag == "img" and name in ("src", "alt", "width", "height"):
        return name != "src" or value.startswith("data:image/") and not value.startswith("data:image/svg")
    return False


def clean(html: str) -> str:
    """``html`` with only :data:`TAGS` and the attributes :func:`_attribute` allows; the rest escaped."""
    import bleach

    return bleach.clean(str(html), tags=TAGS, attributes=_attribute, protocols=["http", "https", "mailto", "data"],
                        strip_comments=True)


@cache
def _exporter():
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="basic", sanitize_html=True, exclude_input_prompt=True,
                            exclude_output_prompt=True)
    exporter.register_filter("clean_html", clean)
    return exporter


def preview(folder: Path) -> str:
    """The executed notebook of the capsule in ``folder`` as cleaned HTML (the body, without a page around it)."""
    import nbformat

    notebook = nbformat.read(folder / NOTEBOOK, as_version=4)
    body, _ = _exporter().from_notebook_node(notebook)
    return body
