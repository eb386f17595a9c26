"""A user's server (or a terminal in it) talking to the hub service with its own hub token.

The server reaches the service at ``$JUPYTER_VLASS_HUB_SERVICE`` with ``$JUPYTERHUB_API_TOKEN`` (the
spawner sets both; the ``server`` role gets ``access:services!service=vlass``). The service's
``{message, reason}`` errors come back as the same typed exceptions.
"""

from __future__ import annotations

import os

from .exceptions import RateLimited, SourceUnavailable, VlassError

SERVICE_ENV = "JUPYTER_VLASS_HUB_SERVICE"
# The login's access token (the authenticator's auth_state), set by the spawner in the user's server
# environment; sources without credentials of their own may send it.
HUB_TOKEN_ENV = "JUPYTER_VLASS_ACCESS_TOKEN"


def _error_classes() -> dict[str, type[VlassError]]:
    found, todo = {}, [VlassError]
    while todo:
        cls = todo.pop()
        found.setdefault(cls.reason, cls)
        todo.extend(cls.__subclasses__())
    return found


def service_from_environment() -> tuple[str, str] | None:
    """``(service url, token)`` when this process runs under a hub with the vlass service; None otherwise."""
    url, token = os.environ.get(SERVICE_ENV), os.environ.get("JUPYTERHUB_API_TOKEN")
    return (url, token) if url and token else None


class HubServiceClient:
    def __init__(self, service_url: str, *, token: str, timeout: float = 30.0):
        self.url, self.timeout = service_url.rstrip("/") + "/", timeout
        self._headers = {"Authorization": f"token {token}"}

    def request(self, method: str, path: str, body: dict | None = None) -> dict:
        import requests

        try:
            answer = requests.request(method, self.url + path, json=body, headers=self._headers, timeout=self.timeout)
        except requests.RequestException as error:
            raise SourceUnavailable(f"the hub service did not answer ({type(error).__name__})") from None
        try:
            doc = answer.json()
        except ValueError:
            doc = {}
        if answer.status_code >= 400:
            cls = _error_classes().get(doc.get("reason"), VlassError)
            message = doc.get("message") or f"the hub service answered {answer.status_code}"
            if cls is RateLimited:
                raise RateLimited(message, retry_after=float(doc.get("retry_after") or 1.0))
            error = cls(message)
            error.status = answer.status_code if cls is VlassError else cls.status
            raise error
        return doc


class HubSearchQuota:
    """The user's search quota held by the hub service (``--search-quota``), shared by all their servers.

    Called before each search; raises :class:`RateLimited` when the quota is spent. When the service does
    does not answer or fails, the search goes ahead (a quota protects shared sources; it must not stop
    discovery)."""

    def __init__(self, client: HubServiceClient):
        self.client = client

    def __call__(self, user: str) -> None:
        try:
            self.client.request("POST", "api/quotas/search")
        except RateLimited:
            raise
        except VlassError:  # unreachable, or a service without quotas
            return
