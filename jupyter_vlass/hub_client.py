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
ORCID_ENV = "JUPYTER_VLASS_ORCID"  # the user's ORCID iD from the login, set by the spawner: a capsule's author's


def _error_classes() -> dict[str, type[VlassError]]:
    found, todo = {}, [VlassError]
    while todo:
        cls = todo.pop()
        found.setdefault(cls.reason, cls)
        todo.extend(cls.__subclasses__())
    return found


REGISTRY_ENV = "JUPYTER_VLASS_REGISTRY"  # "hub": the service holds the registry (the hub's config sets it)
DB_ENV = "JUPYTER_VLASS_DB"  # a registry of the user's own (store.location's name for it)


def hub_registry_applies() -> bool:
    """Whether ``Registry()`` means the hub service's registry here: under a hub whose service holds it
    (``$JUPYTER_VLASS_REGISTRY`` is ``hub``) and with no database of the user's own named (``$JUPYTER_VLASS_DB``)."""
    return os.environ.get(REGISTRY_ENV) == "hub" and service_from_environment() is not None \
        and not os.environ.get(DB_ENV)


def service_from_environment() -> tuple[str, str] | None:
    """``(service url, token)`` when this process runs under a hub with the vlass service; None otherwise."""
    url, token = os.environ.get(SERVICE_ENV), os.environ.get("JUPYTERHUB_API_TOKEN")
    return (url, token) if url and token else None


class HubServiceClient:
    def __init__(self, service_url: str, *, token: str, timeout: float = 30.0):
        self.url, self.timeout = service_url.rstrip("/") + "/", timeout
        self._headers = {"Authorization": f"token {token}"}

    def request(self, method: str, path: str, body: dict | None = None, *, params: dict | None = None,
                data: bytes | None = None, headers: dict | None = None, timeout: float | None = None) -> dict:
        """A JSON ``body`` (or raw ``data`` with its ``headers``) sent; the JSON answer, or the typed error.
        ``timeout``: for a call known to be long (a sync), instead of the client's."""
        answer = self._send(method, path, body, params=params, data=data, headers=headers, timeout=timeout)
        try:
            doc = answer.json()
        except ValueError:
            doc = {}
        _raise_for(answer, doc)
        return doc

    def stream(self, path: str, *, params: dict | None = None, timeout: float | None = None):
        """The body of a ``GET`` as a file object read as it arrives (close it, or use ``with``)."""
        answer = self._send("GET", path, None, params=params, stream=True, timeout=timeout)
        if answer.status_code >= 400:
            try:
                doc = answer.json()
            except ValueError:
                doc = {}
            answer.close()
            _raise_for(answer, doc)
        answer.raw.decode_content = True
        return answer.raw

    def _send(self, method: str, path: str, body: dict | None, *, params: dict | None = None, stream: bool = False,
              data: bytes | None = None, headers: dict | None = None, timeout: float | None = None):
        import requests

        try:
            return requests.request(method, self.url + path, json=body, params=params, data=data,
                                    headers={**self._headers, **(headers or {})}, timeout=timeout or self.timeout, stream=stream)
        except requests.RequestException as error:
            raise SourceUnavailable(f"hub service unavailable: it did not answer ({type(error).__name__}); "
                                    "try again in a moment") from None


def _raise_for(answer, doc: dict) -> None:
    """The service's ``{message, reason}`` error as the typed exception it names."""
    if answer.status_code < 400:
        return
    cls = _error_classes().get(doc.get("reason"), VlassError)
    message = doc.get("message") or f"the hub service answered {answer.status_code}"
    if cls is RateLimited:
        raise RateLimited(message, retry_after=float(doc.get("retry_after") or 1.0))
    error = cls(message)
    if cls is VlassError:  # a reason no class names (such as ``source_exists``): kept, with the status
        error.reason, error.status = doc.get("reason") or error.reason, answer.status_code
    raise error


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
