"""The service's pages in the hub's own layout: each page's fragment (a tornado template of ``templates/``) goes
into JupyterHub's ``page.html`` (its navigation bar, user menu, logout, styles and dark mode), with the
service's pages added to the bar. The hub's static files are served under the service's prefix."""

from __future__ import annotations

import os
from types import SimpleNamespace

import jinja2
from jupyterhub._data import DATA_FILES_PATH
from tornado.escape import json_encode

STATIC = os.path.join(DATA_FILES_PATH, "static")
PAGES = (("gallery", "Published analyses"), ("dashboard", "Jobs dashboard"), ("review", "Consensus review"),
         ("approvals", "Approvals"))
TITLES = {"approvals.html": "Compute approvals", "dashboard.html": "Analysis jobs: cost and sites",
          "gallery.html": "Published analyses", "review.html": "Consensus review"}
_LAYOUT = """{% extends "page.html" %}
{% block title %}{{ title }}{% endblock title %}
{% block nav_bar_left_items %}{{ super() }}
{% for path, label in pages %}<li class="nav-item"><a class="nav-link{% if path == here %} active{% endif %}"
 href="{{ prefix }}{{ path }}"{% if path == here %} aria-current="page"{% endif %}>{{ label }}</a></li>{% endfor %}
{% endblock nav_bar_left_items %}
{% block main %}<div class="container vlass-page">{{ body | safe }}</div>{% endblock main %}
"""
_ENV = jinja2.Environment(loader=jinja2.ChoiceLoader([jinja2.DictLoader({"vlass-page.html": _LAYOUT}),
                                                      jinja2.FileSystemLoader(os.path.join(DATA_FILES_PATH, "templates"))]),
                          autoescape=True)


def hub_page(handler, body: str, *, title: str, here: str) -> str:
    """``body`` (the page's own HTML, escaped where it was rendered) inside the hub's page for ``handler``'s user."""
    hub = os.environ.get("JUPYTERHUB_BASE_URL", "/").rstrip("/") + "/hub/"
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/vlass/")
    model = handler.current_user or {}
    user = SimpleNamespace(name=model.get("name", ""), json_escaped_name=json_encode(model.get("name", ""))[1:-1],
                           admin=bool(model.get("admin")), spawner=None)
    return _ENV.get_template("vlass-page.html").render(
        body=body, title=title, here=here, pages=PAGES, prefix=prefix, user=user, base_url=hub, prefix_url=prefix,
        static_url=handler.static_url, login_url=f"{hub}login", logout_url=f"{hub}logout",
        parsed_scopes=set(model.get("scopes", [])), services=[], no_spawner_check=True, version_hash="",
        xsrf_token=handler.xsrf_token.decode(), announcement=None)
