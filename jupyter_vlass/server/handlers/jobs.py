"""REST: analysis jobs of the server's user (/vlass/api/jobs) and the result cache's figures."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized

from ...exceptions import InvalidArgument
from .base import VlassHandler, authenticated


class JobsBase(VlassHandler):
    """A REST handler over the caller's jobs (:meth:`~.base.VlassAccess.jobs`)."""


class JobsHandler(JobsBase):
    @authenticated
    @authorized
    async def get(self):
        jobs = await self.blocking(lambda: [job.status() for job in self.jobs().list()])
        self.write_json({"jobs": jobs})

    @authenticated
    @authorized
    async def post(self):
        document = self.json_body()
        status = await self.blocking(lambda: self.jobs().submit(document).status())
        self.set_header("Location", self.request.path.rstrip("/") + "/" + status["id"])
        self.write_json(status, status=201)


class JobHandler(JobsBase):
    @authenticated
    @authorized
    async def get(self, job_id: str):
        self.write_json(await self.blocking(lambda: self.jobs().get(job_id).status()))

    @authenticated
    @authorized
    async def delete(self, job_id: str):
        self.write_json(await self.blocking(lambda: self.jobs().cancel(job_id).status()))


class JobLogHandler(JobsBase):
    @authenticated
    @authorized
    async def get(self, job_id: str):
        text = self.get_query_argument("lines", "200")
        if not text.isdigit() or not 1 <= int(text) <= 10000:
            raise InvalidArgument("lines must be an integer from 1 to 10000")
        log = await self.blocking(lambda: self.jobs().log(job_id, lines=int(text)))
        self.write_json({"id": job_id, "log": log})


class CacheHandler(JobsBase):
    @authenticated
    @authorized
    async def get(self):
        self.write_json(await self.blocking(lambda: self.jobs().cache.stats()))

