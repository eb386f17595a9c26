"""The dataset browser widget (region -> sources -> dataset)."""

from jupyter_vlass.widgets import DatasetBrowser


def test_browser_search_pick_and_cite(demo_registry):
    browser = DatasetBrowser(demo_registry, region="209.25,-18.0,0.5")
    assert set(browser.sources.options) == {"vlass", "curated", "tacc"}
    browser.sources.value = ("vlass", "curated")
    browser.button.click()
    assert len(browser.result) == 4
    assert {h.source for h in browser.result} == {"vlass", "curated"}
    assert browser.selected is browser.result.hits[0]
    browser.datasets.value = 1
    assert browser.result.hits[1].sha256 in browser.citation.value
    assert "<table>" in browser.table.value


def test_browser_shows_bad_region_instead_of_raising(demo_registry):
    browser = DatasetBrowser(demo_registry, region="500,0,1")
    assert browser.search() is None
    assert "RA must be in" in browser.message.value
