"""REST: published analyses (signed run capsules) and the site's public keys.

Thin handlers over :mod:`jupyter_vlass.reproducibility`; the artifact store and the keyring are
``$JUPYTER_VLASS_CAPSULES`` and ``$JUPYTER_VLASS_KEYS`` (defaults under ``~/.local/share/jupyter-vlass``),
as for the CLI; under a hub the hub service signs and its keys verify. A user publishes and forks only as themselves (their own jobs).
"""

from __future__ import annotations

import json
import os

from jupyter_server.auth.decorator import authorized

from ...exceptions import Conflict, InvalidArgument
from ...reproducibility.location import capsule_store as store
from ...reproducibility.location import public_keys, signer
from .base import VlassHandler, authenticated
from .jobs import JobsBase


class KeysHandler(VlassHandler):
    """Capsules signed with any of these keys verify; retired keys stay listed."""

    @authenticated
    @authorized
    async def get(self):
        keys = await self.blocking(lambda: [k.to_json() for k in public_keys().public_keys()])
        self.write_json({"keys": keys})


class AnalysesHandler(JobsBase):
    @authenticated
    @authorized
    async def get(self):
        self.write_json({"analyses": await self.blocking(lambda: store().list())})

    @authenticated
    @authorized
    async def post(self):
        """Publish one of the caller's finished jobs: ``{"job_id": ...}``."""
        from ...reproducibility.capsule import publish

        job_id = self.json_body().get("job_id")
        if not isinstance(job_id, str):
            raise InvalidArgument("job_id: the id of one of your finished jobs")

        def run():
            from ...reproducibility.report import cite
            from ...review.review import review

            jobs = self.jobs()
            capsule = publish(jobs.get(job_id), store=store(), signer=signer(), gate=review(jobs.registry.Session))
            shown = store().show(capsule.capsule_id)
            return {**capsule.to_json(), **shown, "citation": cite(shown)}
        doc = await self.blocking(run)
        self.write_json(doc, status=201 if doc["new"] else 200)


class AnalysisGateHandler(JobsBase):
    """``?job_id=``: what the publish gate would say of one of the caller's ended jobs (its consensus score
    per input against the threshold), before anything is published."""

    @authenticated
    @authorized
    async def get(self):
        from ...reproducibility.capsule import gate_preview

        job_id = self.get_query_argument("job_id", "")

        def run():
            from ...review.review import review

            jobs = self.jobs()
            return {"job_id": job_id, "decisions": gate_preview(jobs.get(job_id), review(jobs.registry.Session))}
        self.write_json(await self.blocking(run))


class AnalysisHandler(VlassHandler):
    @authenticated
    @authorized
    async def get(self, capsule_id: str):
        self.write_json(await self.blocking(lambda: store().show(capsule_id)))


class ReproducibilityManifestHandler(VlassHandler):
    @authenticated
    @authorized
    async def get(self, capsule_id: str):
        doc = await self.blocking(lambda: store().datacite(capsule_id))
        self.finish(json.dumps(doc), set_content_type="application/ld+json")  # APIHandler's own parameter


class NotebookCheckHandler(JobsBase):
    """``?path=`` (relative to the notebook directory): is this notebook a capsule's, as published?"""

    @authenticated
    @authorized
    async def get(self):
        path = self.get_argument("path", "")
        root = self.settings["vlass_jobs"].root

        def run():
            from pathlib import Path

            target = (Path(root) / path).resolve()
            if not path or not target.is_relative_to(Path(root).resolve()) or not target.is_file():
                raise InvalidArgument("path: a notebook inside your notebook directory")
            from ...review.review import followed, review

            capsules = store()
            checked = capsules.check_notebook(target, keyring=public_keys())
            if not checked["capsule_id"]:
                return {**checked, "marks": []}
            board = review(self.registry.Session)  # the hub's, which follows the lineage itself, or this user's
            if capsules.url == "hub":
                return {**checked, "marks": board.marks(f"capsule:{checked['capsule_id']}")}
            inherited, hidden = followed(capsules.lineage(checked["capsule_id"]), self.registry)
            return {**checked, "marks": board.marks(f"capsule:{checked['capsule_id']}", inherited, hidden=hidden)}
        self.write_json(await self.blocking(run))


class GalleryHandler(JobsBase):
    """The published analyses the caller may see, searched as the hub's gallery searches them (the JupyterLab
    panel): under a hub, the service's own gallery for this user; else this server's capsule store. Each entry
    links its page (the hub's, when there is one) and the fork page of this server."""

    @authenticated
    @authorized
    async def get(self):
        from urllib.parse import quote

        from jupyter_server.utils import url_path_join

        params = {k: self.get_query_argument(k) for k in ("region", "dataset", "model", "author", "status", "sort",
                                                         "limit", "cursor") if self.get_query_argument(k, "")}

        def run():
            from ...reproducibility.gallery import GalleryQuery, SignatureChecks
            from ...review.gallery_page import gallery_page
            from ...review.review import review

            capsules = store()
            if capsules.url == "hub":  # the service's gallery, as this user sees it
                page = capsules.client.request("GET", "api/gallery", params=params)
                hub = os.environ.get("JUPYTERHUB_BASE_URL", "/").rstrip("/")
                link = lambda e: f"{hub}/services/vlass/gallery/{quote(e['id'])}"  # noqa: E731
            else:
                registry = self.registry
                query = GalleryQuery.from_params(lambda name: params.get(name))
                page = gallery_page(query, analyses=capsules.list(), store=capsules, view=registry,
                                    review=review(registry.Session), checks=SignatureChecks(public_keys()))
                link = lambda e: None  # noqa: E731
            for entry in page["entries"]:
                entry["links"] = {"page": link(entry), "fork": url_path_join(self.base_url, "vlass", "fork", entry["id"])}
            return page
        self.write_json(await self.blocking(run))


class LeaderboardHandler(VlassHandler):
    @authenticated
    @authorized
    async def get(self):
        self.write_json({"analyses": await self.blocking(lambda: store().leaderboard())})


class ForkHandler(JobsBase):
    """Replay or fork as the caller: ``{datasets, parameters, site, force, dry_run}``; the compatibility
    report always; 409 with it when a change is breaking."""

    @authenticated
    @authorized
    async def post(self, capsule_id: str):
        from ...reproducibility.replay import compatibility, resubmit

        body = self.json_body()
        datasets, parameters = body.get("datasets") or {}, body.get("parameters") or {}
        if not isinstance(datasets, dict) or not all(isinstance(v, str) for v in datasets.values()):
            raise InvalidArgument("datasets: an object of dataset id -> 'id@version'")
        if not isinstance(parameters, dict):
            raise InvalidArgument("parameters: an object of name -> value")
        site = body.get("site")
        if site is not None and not isinstance(site, str):
            raise InvalidArgument("site: a site name")

        def run():
            path = store().path(capsule_id)
            jobs = self.jobs()
            if body.get("dry_run"):
                report, _ = compatibility(path, jobs.registry, datasets=datasets, parameters=parameters,
                                          capsule_id=capsule_id)
                return {"report": report.to_json()}, 200
            try:
                job, report = resubmit(path, jobs, keyring=public_keys(), datasets=datasets, parameters=parameters,
                                       site=site, force=bool(body.get("force")))
            except Conflict as error:
                if hasattr(error, "report"):
                    return {"message": error.message.splitlines()[0], "reason": "not_compatible",
                            "report": error.report.to_json()}, 409
                raise
            return {"report": report.to_json(), "job": job.status()}, 201
        doc, status = await self.blocking(run)
        self.write_json(doc, status=status)
