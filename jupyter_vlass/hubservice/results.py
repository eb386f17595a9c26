"""The hub-wide result cache (:mod:`~jupyter_vlass.jobs.hub_results`): a user's server offers the outputs of
its job, and asks, before computing, for a result another user's job computed.

A result is shown only to a caller whose groups may read every dataset version it was computed from;
otherwise the answer is the same 404 as for a result the hub does not hold. Dropping a copy is the admins'."""

from __future__ import annotations

from tornado import web

from ..exceptions import InvalidArgument, UnknownDataset
from .capsules import TAR
from .datasets import RegistryHandler


class ResultsHandler(RegistryHandler):
    @property
    def results(self):
        return self.settings["hub_results"]

    def may_read(self, inputs: list) -> bool:
        view = self.registry
        try:
            for dataset_id, version in inputs:
                view.get(dataset_id, version)
        except UnknownDataset:
            return False
        return True


class ResultAPI(ResultsHandler):
    @web.authenticated
    async def get(self, key: str):
        self.finish(await self.blocking(self.results.show, key, may_read=self.may_read))

    @web.authenticated
    async def post(self, key: str):
        """The caller's job's outputs (``?job_id=``, its id and attempt), as a tar: 201 when new, 200 when held."""
        if self.request.headers.get("Content-Type", "").split(";")[0].strip() != TAR:
            raise InvalidArgument(f"a result is sent as {TAR}: the archive of the job's outputs")
        doc = await self.blocking(self.results.offer, user=self.user_name, key=key, data=self.request.body,
                                  job_id=self.get_query_argument("job_id", None))
        self.set_status(201 if doc["new"] else 200)
        self.finish(doc)

    @web.authenticated
    async def delete(self, key: str):
        self.require_decide("dropping a cached result")
        self.finish({"key": key, "removed": await self.blocking(self.results.remove, key)})


class ResultArchiveAPI(ResultsHandler):
    @web.authenticated
    async def get(self, key: str):
        data = await self.blocking(self.results.archive, key, may_read=self.may_read)
        self.set_header("Content-Type", TAR)
        self.finish(data)


def routes(prefix_join) -> list:
    return [(prefix_join(r"api/results/([^/]+)"), ResultAPI),
            (prefix_join(r"api/results/([^/]+)/archive"), ResultArchiveAPI)]
