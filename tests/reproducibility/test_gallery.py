"""The gallery's search over published analyses: standing, independent replays and forks, filters, facets,
sorting and paging (over summaries as the capsule store lists them); the signature check of a real capsule
it shows, caught when a byte changes."""

from __future__ import annotations

import pytest

from jupyter_vlass.exceptions import InvalidArgument, InvalidRegion
from jupyter_vlass.reproducibility.capsule import publish
from jupyter_vlass.reproducibility.gallery import GalleryQuery, SignatureChecks, entries, search
from jupyter_vlass.reproducibility.keys import Keyring
from jupyter_vlass.review import gallery_page
from jupyter_vlass.review.gallery_page import in_region as gallery_in_region
from tests.reproducibility.test_capsules import done_job  # noqa: F401  (a fixture)

TILE = {"id": "vlass:VLASS2.2.ql.T08t20.J135700-180000", "version": "v1", "sha256": "a" * 64}
NEWER = {**TILE, "version": "v2", "sha256": "b" * 64}
RACS = {"id": "curated:racs-1357-18-components", "version": "1.1.0", "sha256": "c" * 64}


def summary(capsule_id: str, owner: str, *, parent=None, inputs=(TILE,), parameters=None, status="completed",
            outputs=("d",), published="2026-12-01T10:00:00Z", model=None) -> dict:
    """An analysis as :meth:`CapsuleStore.list` summarises it."""
    return {"id": capsule_id * 64, "title": f"analysis {capsule_id}", "published": published, "owner": owner,
            "parent": parent and parent * 64, "site": "local", "inputs": list(inputs), "opened": [],
            "parameters": parameters or {"threshold": 5.0}, "model": model, "status": status,
            "outputs": [{"name": "detections.ecsv", "sha256": o * 64} for o in outputs]}


class Standing:
    """The service's view of each capsule: which signatures fail, which marks (by capsule id letter)."""

    def __init__(self, *, failing=(), marks=None, split=None):
        self.failing, self.marked = {f * 64 for f in failing}, {k * 64: v for k, v in (marks or {}).items()}
        self.split = {k * 64: v for k, v in (split or {}).items()}

    def __call__(self, analysis: dict) -> dict:
        return {"verifies": analysis["id"] not in self.failing, "disagreement": self.split.get(analysis["id"], 0.0),
                "marks": [{"mark": m, "explanation": "x", "because": None} for m in self.marked.get(analysis["id"], [])]}


CNN = {"name": "cnn", "version": "0.2.0"}
HUB = [
    summary("a", "alice", model=CNN, published="2026-12-01T10:00:00Z"),
    summary("b", "bob", parent="a", published="2026-12-02T10:00:00Z"),               # a replay by bob
    summary("c", "bob", parent="a", published="2026-12-02T11:00:00Z"),               # bob again: counted once
    summary("d", "carol", parent="a", outputs=("e",), published="2026-12-02T12:00:00Z"),  # other bytes
    summary("e", "alice", parent="a", published="2026-12-02T13:00:00Z"),             # the author's own
    summary("f", "dave", parent="a", status="failed", published="2026-12-02T14:00:00Z"),  # failed
    summary("g", "erin", parent="a", published="2026-12-02T15:00:00Z"),              # does not verify
    summary("h", "bob", parent="a", inputs=(NEWER,), published="2026-12-03T10:00:00Z"),  # a fork
    summary("i", "carol", inputs=(RACS,), model={"name": "classical", "version": "1.0.0"},
            published="2026-12-03T11:00:00Z"),
]


def test_replays_count_other_users_once_each_when_they_succeed_and_verify():
    found = {e["id"][0]: e for e in entries(HUB, Standing(failing=("g",), marks={"i": ["Updated", "Retracted"]}))}
    assert (found["a"]["replays"], found["a"]["identical_replays"], found["a"]["forks"]) == (2, 1, 1)
    assert found["g"]["status"] == "unverified" and found["f"]["status"] == "failed"
    assert found["i"]["status"] == "retracted" and found["a"]["status"] == "verified"
    assert [m["mark"] for m in found["i"]["marks"]] == ["Updated", "Retracted"]
    assert found["a"]["newer"] == ["e" * 64]  # its author's later capsule of it; bob's replays and fork are not
    assert found["b"]["newer"] == [] and found["e"]["newer"] == []
    unverified_and_marked = entries([summary("z", "alice")], Standing(failing=("z",), marks={"z": ["Retracted"]}))
    assert unverified_and_marked[0]["status"] == "unverified"  # never shown as standing when it does not verify


def test_filters_facets_sorting_and_pages():
    found = entries(HUB, Standing(failing=("g",), marks={"i": ["Retracted"]}))
    newest = search(found, GalleryQuery())
    assert [e["id"][0] for e in newest["entries"]] == list("ihgfedcba") and newest["total"] == 9
    assert newest["facets"]["author"] == {"bob": 3, "alice": 2, "carol": 2, "dave": 1, "erin": 1}
    assert newest["facets"]["status"] == {"verified": 6, "failed": 1, "unverified": 1, "retracted": 1}
    assert newest["facets"]["model"] == {"cnn": 1, "classical": 1}
    assert newest["facets"]["dataset"][TILE["id"]] == 8 and newest["facets"]["dataset"][RACS["id"]] == 1
    assert search(found, GalleryQuery(sort="most_reproduced"))["entries"][0]["id"][0] == "a"
    split = entries(HUB, Standing(marks={"b": ["Updated"], "c": ["Updated", "Retracted"]}, split={"d": 0.9, "b": 0.3}))
    assert [e["id"][0] for e in search(split, GalleryQuery(sort="controversial"))["entries"][:4]] == list("dbci")
    pinned = search(found, GalleryQuery(dataset=f"{TILE['id']}@v2"))
    assert [e["id"][0] for e in pinned["entries"]] == ["h"]
    assert search(found, GalleryQuery(dataset=TILE["id"]))["total"] == 8
    assert [e["id"][0] for e in search(found, GalleryQuery(model="cnn@0.2.0"))["entries"]] == ["a"]
    bobs = search(found, GalleryQuery(author="bob"))
    assert bobs["total"] == 3 and bobs["facets"]["author"]["alice"] == 2  # the author facet ignores its own filter
    assert search(found, GalleryQuery(status="retracted"))["total"] == 1
    first = search(found, GalleryQuery(limit=4))
    second = search(found, GalleryQuery(limit=4, offset=int(first["next_cursor"])))
    last = search(found, GalleryQuery(limit=4, offset=int(second["next_cursor"])))
    assert [e["id"] for e in first["entries"] + second["entries"] + last["entries"]] == \
        [e["id"] for e in newest["entries"]] and last["next_cursor"] is None


@pytest.mark.parametrize("params, named", [
    ({"sort": "oldest"}, "sort"), ({"status": "gone"}, "status"), ({"limit": "0"}, "limit"),
    ({"limit": "101"}, "limit"), ({"limit": "ten"}, "limit"), ({"cursor": "-1"}, "cursor"),
    ({"author": ""}, "author"), ({"dataset": "x" * 513}, "dataset")])
def test_bad_parameters_are_refused_by_name(params, named):
    with pytest.raises(InvalidArgument, match=f"^{named}:"):
        GalleryQuery.from_params(params.get)


def test_a_capsule_whose_byte_changed_no_longer_verifies(done_job, tmp_path):
    from jupyter_vlass.reproducibility.store import CapsuleStore

    capsule = publish(done_job, store=tmp_path / "store", keyring=(site := Keyring(tmp_path / "keys")))
    checks = SignatureChecks(site)
    assert checks.checked == 0 and checks.warm(CapsuleStore(tmp_path / "store")) == 1  # at a service's start
    assert checks.verifies(capsule.path) and checks.verifies(capsule.path)
    output = next(p for p in (capsule.path / "outputs").rglob("*") if p.is_file())
    output.write_bytes(output.read_bytes() + b" ")
    assert not checks.verifies(capsule.path)  # what was checked before is checked again once a file changed


def test_a_region_finds_the_analyses_that_read_a_dataset_there(demo_registry):
    """The registry's own search (its index over the footprints) says which dataset versions lie in the cone."""
    elsewhere = summary("j", "bob", inputs=({"id": "vlass:elsewhere", "version": "v1", "sha256": "f" * 64},))
    found = entries(HUB + [elsewhere], Standing())
    here = GalleryQuery.from_params({"region": "209.25,-18.0,0.5"}.get)
    in_region = gallery_in_region(demo_registry, here.region)  # as the gallery's page asks the registry
    assert {(TILE["id"], "v1"), (TILE["id"], "v2"), (RACS["id"], RACS["version"])} <= in_region
    assert sorted(e["id"][0] for e in search(found, here, in_region)["entries"]) == list("abcdefghi")
    far = GalleryQuery.from_params({"region": "10,10,0.5"}.get)
    assert search(found, far, gallery_in_region(demo_registry, far.region))["total"] == 0
    with pytest.raises(InvalidRegion):
        GalleryQuery.from_params({"region": "400,0,1"}.get)


def test_a_region_with_more_versions_than_a_registry_page_is_read_page_by_page(demo_registry, monkeypatch):
    region = GalleryQuery.from_params({"region": "209.25,-18.0,0.5"}.get).region
    whole = {(h.dataset_id, h.version) for h in demo_registry.search(region).hits}  # unpaged, every version
    monkeypatch.setattr(gallery_page, "MAX_LIMIT", 1)  # one version a page
    assert len(whole) >= 3 and gallery_in_region(demo_registry, region) == whole
    monkeypatch.setattr(gallery_page, "MAX_REGION_HITS", 2)
    assert len(gallery_in_region(demo_registry, region)) == 2  # bounded

def test_the_page_escapes_every_string_and_shows_the_tombstone():
    """The gallery page's template (the service renders it with Tornado's autoescape) over a hostile entry."""
    from tornado.escape import url_escape
    from tornado.template import Loader

    from tests.services import REPO

    hostile = summary("x", "<img src=x onerror=alert(1)>", inputs=({"id": "v:<b>", "version": "1", "sha256": "0"},))
    hostile["title"] = "<script>alert('title')</script>"
    [entry] = entries([hostile], Standing(marks={"x": ["Retracted"]}))
    entry["marks"][0].update(by="carol", at="2026-12-04T10:00:00Z", explanation="<i>RFI</i> & worse")
    page = search([entry], GalleryQuery())
    html = Loader(str(REPO / "jupyter_vlass" / "hubservice" / "templates")).load("gallery.html").generate(
        user="<u>", page=page, query=GalleryQuery(), titles={}, url_escape=url_escape, base="/services/vlass/",
        params={"region": "", "dataset": "a&b", "author": "\"><script>", "model": "", "status": "", "sort": ""}).decode()
    for raw in ("<script>", "<img src", "<i>RFI", "v:<b>", "<u>"):
        assert raw not in html, raw
    assert "&lt;script&gt;alert(&#x27;title&#x27;)&lt;/script&gt;" in html
    assert 'class="tombstone">Retracted by carol on 2026-12-04T10:00:00Z: &lt;i&gt;RFI&lt;/i&gt; &amp; worse' in html
    assert "dataset=a%26b&amp;author=%22%3E%3Cscript%3E" in html


def test_the_preview_shows_the_executed_notebook_without_anything_that_runs(tmp_path):
    """The executed notebook of a capsule rendered read-only: what a notebook may hold to attack its reader
    (script in Markdown, in an HTML output, an event handler, a javascript: link, SVG) is escaped or dropped;
    headings, tables, code and the plots' own PNG bytes stay."""
    import base64

    import nbformat

    from jupyter_vlass.reproducibility.preview import POLICY, preview

    png = base64.b64encode(b"\x89PNG\r\n\x1a\n").decode()  # a PNG's signature: the page keeps the output's bytes
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Sources near J1357 <script>alert(1)</script>\n\n[x](javascript:alert(2))"),
        nbformat.v4.new_code_cell("print('<b>')", outputs=[
            nbformat.v4.new_output("display_data", data={
                "text/html": "<table><tr><td>42</td></tr></table><img src=x onerror=alert(3)><svg onload=alert(4)>",
                "text/plain": "42"}),
            nbformat.v4.new_output("display_data", data={"image/png": png, "text/plain": "a plot"}),
            nbformat.v4.new_output("stream", name="stdout", text="<script>alert(5)</script>")])])
    nbformat.write(nb, tmp_path / "notebook.ipynb")
    html = preview(tmp_path)
    import re

    assert "<script" not in html and "<svg" not in html
    assert not re.search(r"<[a-z][^>]*\son\w+\s*=", html)  # no element carries an event handler
    assert not re.search(r"<a[^>]*javascript:", html)
    assert "&lt;svg onload=alert(4)&gt;" in html  # shown as text
    assert "<h1>Sources near J1357" in html and "<td>42</td>" in html and f"data:image/png;base64,{png}" in html
    assert "&lt;script&gt;alert(5)&lt;/script&gt;" in html and "print" in html
    assert "script-src" not in POLICY and "default-src 'none'" in POLICY  # the page runs no script at all


def test_an_entry_page_escapes_every_string_and_links_its_fork_and_newer_version():
    from tornado.escape import url_escape
    from tornado.template import Loader

    from tests.services import REPO

    found = {e["id"][0]: e for e in entries(HUB, Standing(marks={"a": ["Retracted"]}))}
    entry = found["a"]
    entry["title"] = "<script>alert('title')</script>"
    entry["marks"][0].update(by="carol", at="2026-12-04T10:00:00Z", explanation="<i>RFI</i>")
    html = Loader(str(REPO / "jupyter_vlass" / "hubservice" / "templates")).load("analysis.html").generate(
        user="<u>", e=entry, titles={"e" * 64: "<b>v2</b>"}, preview="<p>the notebook</p>", url_escape=url_escape,
        base="/services/vlass/", fork=f"/hub/user-redirect/vlass/fork/{entry['id']}").decode()
    for raw in ("<script>", "<i>RFI", "<b>v2", "<u>"):
        assert raw not in html, raw
    assert f'href="/hub/user-redirect/vlass/fork/{"a" * 64}">Fork into my server' in html
    assert f'A newer version of this analysis: <a href="/services/vlass/gallery/{"e" * 64}">&lt;b&gt;v2' in html
    assert "<p>the notebook</p>" in html and 'class="tombstone">Retracted by carol' in html
