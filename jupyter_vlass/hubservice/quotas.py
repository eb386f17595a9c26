"""Hub-wide search quotas: one token bucket per user, held here and so shared by every server that user
runs (a user with three servers has one quota, not three). Buckets live in this process's memory, as
JupyterHub's own rate limits do: a restart refills them.
"""

from __future__ import annotations

from tornado import web

from .base import ServiceHandler


class SearchQuotaAPI(ServiceHandler):
    """``POST``: take one search from the caller's quota (a user's server does, before each search);
    429 ``rate_limited`` with ``retry_after`` when it is spent. ``GET``: the quota configured."""

    @web.authenticated
    def post(self):
        limits = self.settings["search_quota"]
        if limits is None:
            return self.finish({"user": self.user_name, "limited": False})
        limits.check_user(self.user_name)
        self.finish({"user": self.user_name, "limited": True})

    @web.authenticated
    def get(self):
        self.finish({"quota": self.settings["search_quota_text"]})


def routes(prefix_join) -> list:
    return [(prefix_join("api/quotas/search"), SearchQuotaAPI)]
