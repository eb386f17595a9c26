"""``/vlass/fork/{capsule_id}``: "Fork into my server" from the hub's gallery lands here (the hub's
``user-redirect`` starts the reader's server first). The page shows the compatibility report of the fork
before anything runs: each dataset moved onto its newest version unless the reader picks another, the
parameters as the capsule ran them. Forking submits the job as the reader and opens the forked notebook in
their JupyterLab; a breaking change needs "fork anyway". Every string on the page is escaped."""

from __future__ import annotations

import json
from html import escape

from jupyter_server.auth.decorator import authorized
from jupyter_server.utils import url_path_join

from ...exceptions import Conflict, InvalidArgument
from ...reproducibility.location import capsule_store as store
from ...reproducibility.location import public_keys
from ...reproducibility.preview import POLICY
from .base import VlassPage, authenticated

STYLE = ("body{font-family:sans-serif;margin:2em;max-width:60em}li.breaking{color:#a33}li.info{color:#1a4f8a}"
         "li.ok{color:#26722b}label{display:block;margin:.3em 0}button{margin:.8em .6em 0 0}")


def _value(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        return text


class ForkPage(VlassPage):
    def _plan(self, capsule_id: str, choose) -> dict:
        """The capsule, the fork's choices and its report for the versions and parameters ``choose(name)`` gives."""
        from ...reproducibility.replay import compatibility, fork_choices

        path = store().path(capsule_id)
        registry = self.registry
        choices = fork_choices(path, registry)
        datasets, parameters = {}, {}
        for pin in choices["inputs"]:
            version = choose(f"version:{pin['id']}") or (pin["versions"][0] if pin["versions"] else pin["version"])
            pin["chosen"] = version
            if version != pin["version"]:
                datasets[pin["id"]] = f"{pin['id']}@{version}"
        for name, text in choices["parameters"].items():
            given = choose(f"param:{name}")
            if given is not None and given.strip() != text:
                parameters[name] = _value(given)
                choices["parameters"][name] = given
        report, _ = compatibility(path, registry, datasets=datasets, parameters=parameters, capsule_id=capsule_id)
        return {"path": path, "title": store().show(capsule_id).get("title") or capsule_id[:16], "choices": choices,
                "datasets": datasets, "parameters": parameters, "report": report}

    def _page(self, capsule_id: str, plan: dict, *, message: str = "", status: int = 200) -> None:
        inputs = "".join(
            f"<label>{escape(p['id'])} (ran on {escape(p['version'])}): <select name=\"version:{escape(p['id'])}\">"
            + "".join(f"<option{' selected' if v == p['chosen'] else ''}>{escape(v)}</option>" for v in p["versions"])
            + "</select></label>" for p in plan["choices"]["inputs"])
        parameters = "".join(f"<label>{escape(n)} = <input name=\"param:{escape(n)}\" value=\"{escape(v)}\"></label>"
                             for n, v in plan["choices"]["parameters"].items())
        findings = "".join(f"<li class=\"{escape(f.level)}\">{escape(f.level)}: {escape(f.what)}: {escape(f.message)}</li>"
                           for f in plan["report"].findings) or "<li class=\"ok\">nothing changes</li>"
        breaking = plan["report"].breaking
        self.set_status(status)
        self.set_header("Content-Security-Policy", POLICY)
        self.finish(
            f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Fork: {escape(plan['title'])}</title>"
            f"<style>{STYLE}</style></head><body><h1>Fork “{escape(plan['title'])}”</h1>"
            f"<p>Capsule <code>{escape(capsule_id)}</code>, forked as {escape(self.owner)}.</p>"
            + (f"<p class=\"error\"><b>{escape(message)}</b></p>" if message else "")
            + f"<h2>Compatibility report</h2><ul class=\"report\">{findings}</ul>"
            f"<form method=\"post\">{self.xsrf_form_html()}{inputs}{parameters}"
            "<button name=\"action\" value=\"check\">Check again</button>"
            "<button name=\"action\" value=\"fork\" class=\"fork\">Fork and open</button>"
            + ("<label><input type=\"checkbox\" name=\"force\" value=\"1\"> fork anyway, despite the breaking change"
               "</label>" if breaking else "")
            + "</form></body></html>")

    @authenticated
    @authorized
    async def get(self, capsule_id: str):
        plan = await self.blocking(self._plan, capsule_id, lambda name: self.get_query_argument(name, None))
        self._page(capsule_id, plan)

    @authenticated
    @authorized
    async def post(self, capsule_id: str):
        from ...reproducibility.replay import resubmit

        plan = await self.blocking(self._plan, capsule_id, lambda name: self.get_body_argument(name, None))
        action = self.get_body_argument("action", "check")
        if action not in ("check", "fork"):
            raise InvalidArgument("action: check or fork")
        if action == "check":
            self._page(capsule_id, plan)
            return

        def fork():
            job, _ = resubmit(plan["path"], self.jobs(), keyring=public_keys(), datasets=plan["datasets"],
                              parameters=plan["parameters"], force=self.get_body_argument("force", "") == "1")
            return job.status()
        try:
            job = await self.blocking(fork)
        except Conflict as error:
            if not hasattr(error, "report"):
                raise
            self._page(capsule_id, plan, message="Not forked: the report finds a breaking change.", status=409)
            return
        self.redirect(url_path_join(self.base_url, "lab", "tree", job["notebook"]), status=303)
