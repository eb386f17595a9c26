"""The service's pages in the hub's own layout (JupyterHub's page.html): its navigation bar with the service's
pages, the user menu, the hub's styles served under the service's prefix; what the page put in stays escaped."""

from __future__ import annotations

import re

from tornado import web
from tornado.template import DictLoader
from tornado.testing import AsyncHTTPTestCase

from jupyter_vlass.hubservice.layout import STATIC, hub_page

PREFIX = "/services/vlass/"


class _Page(web.RequestHandler):
    def get_current_user(self):
        return {"name": "vlt-<eve>", "scopes": ["self"]}

    def get(self):
        body = self.render_string("gallery-fragment.html", title=self.get_argument("title"))
        self.finish(hub_page(self, body.decode(), title=self.get_argument("title"), here="gallery"))


class TestTheHubsLayout(AsyncHTTPTestCase):
    def get_app(self):
        loader = {"gallery-fragment.html": "<h1 id='own'>{{ title }}</h1>"}
        return web.Application([(PREFIX + "gallery", _Page)], static_path=STATIC, static_url_prefix=PREFIX + "static/",
                               template_loader=DictLoader(loader), cookie_secret="x" * 32)

    def test_a_page_has_the_hubs_bar_menu_and_styles_and_escapes_what_it_shows(self):
        page = self.fetch(PREFIX + "gallery?title=" + "%3Cscript%3Ealert(1)%3C/script%3E").body.decode()
        assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert re.search(r'<h1 id=.own.>&lt;script&gt;', page)  # the page's own part, escaped where it was made
        assert 'href="/hub/home"' in page and 'href="/hub/logout"' in page and "vlt-&lt;eve&gt;" in page
        assert '<a class="nav-link active"\n href="/services/vlass/gallery" aria-current="page">Published analyses</a>' in page
        for path in ("approvals", "dashboard", "review"):
            assert f'href="/services/vlass/{path}"' in page
        css = re.search(r'href="(/services/vlass/static/css/style.min.css[^"]*)"', page).group(1)
        assert self.fetch(css).code == 200  # the hub's stylesheet, from the service
