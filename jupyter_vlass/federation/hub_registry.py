"""The registry held by the hub service, as a user's server and kernel see it.

Under a hub, ``Registry()`` is this: searches, records, lineage and the bytes of a dataset come from the
service, which applies the caller's groups (the hub's identity of the token, never the caller's word), and
adding or syncing sources needs the admins' scope there. Nothing here holds a credential to the shared
database; the caller's own jobs and result cache stay in the user's own database (``jobs_db``).
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote

import astropy.units as u

from ..exceptions import UnknownSource
from ..hub_client import HubServiceClient, service_from_environment
from ..store import make_engine, session_factory
from .access import hub_groups
from .credentials import resolve_credentials
from .opened import note_opened
from .plugins import source_class
from .records import DatasetRecord
from .region import Region
from .results import Hit, SearchResult
from .sync import SyncReport
from .wire import record_from_json, region_params, report_from_json, result_from_json

def _path(dataset_id: str) -> str:
    return "api/datasets/" + quote(dataset_id, safe="")


SYNC_TIMEOUT = 1800.0  # seconds: a source's harvest is answered when it ends
SLOW_TIMEOUT = 300.0  # a cutout (the whole image read at its origin first), a source added (its origin checked)


class HubRegistry:
    """The hub service's registry; the same methods as :class:`~.registry.Registry` that a user may call."""

    def __init__(self, client: HubServiceClient, *, jobs_db: str | None = None,
                 credentials: dict | None = None, use_hub_token: bool = False):
        self.client = client
        self.groups = frozenset(hub_groups())  # for the caller's own job bookkeeping; the service decides access
        self._jobs_db, self._engine, self._sessions = jobs_db, None, None
        self._credentials, self._use_hub_token = dict(credentials or {}), use_hub_token

    @classmethod
    def from_environment(cls, **options) -> HubRegistry:
        url, token = service_from_environment()
        return cls(HubServiceClient(url, token=token, timeout=15.0), **options)  # a search answers in well under 1 s

    # the user's own database: their jobs and result cache (not shared state) -----------------------
    @property
    def engine(self):
        if self._engine is None:
            self._engine = make_engine(self._jobs_db)
        return self._engine

    @property
    def Session(self):  # noqa: N802 (the Registry's name for it)
        if self._sessions is None:
            self._sessions = session_factory(self.engine)
        return self._sessions

    def close(self) -> None:
        pass

    def viewer(self, groups: Iterable[str]) -> HubRegistry:
        """The service applies the caller's own groups, whatever a caller here claims."""
        return self

    # discovery --------------------------------------------------------------------------------------
    def search(self, region: Region, *, sources: Iterable[str] | None = None,
               deadline: u.Quantity | float = 2 * u.s, user: str | None = None,
               limit: int | None = None, cursor: str | None = None) -> SearchResult:
        seconds = float(u.Quantity(deadline, u.s).to_value(u.s))
        params = {**region_params(region), "deadline": repr(seconds)}
        if sources is not None:
            params["sources"] = ",".join(sources)
        if limit is not None:
            params["limit"] = str(int(limit))
        if cursor:
            params["cursor"] = cursor
        answer = self.client.request("GET", "api/datasets", params=params, timeout=self.client.timeout + max(0.0, seconds))
        return result_from_json(answer, region)

    def records_for(self, hits: list[Hit]) -> list[DatasetRecord]:
        return [self._record(h.dataset_id, h.version) for h in hits]

    def versions(self, dataset_id: str) -> list[DatasetRecord]:
        doc = self.client.request("GET", _path(dataset_id) + "/versions")
        return [record_from_json(r) for r in doc["versions"]]

    def get(self, dataset_id: str, version: str | None = None) -> DatasetRecord:
        return note_opened(self._record(dataset_id, version))

    def _record(self, dataset_id: str, version: str | None) -> DatasetRecord:
        return record_from_json(self.client.request("GET", _path(dataset_id) + "/record",
                                                    params={"version": version} if version else None))

    def describe(self, dataset_id: str) -> dict:
        return self.client.request("GET", _path(dataset_id))

    def open(self, record: DatasetRecord):
        """The version's bytes, through the service (only for a caller its groups grant)."""
        return self.client.stream(_path(record.dataset_id) + "/data", params={"version": record.version})

    def cutout(self, record: DatasetRecord, region) -> bytes:
        """The cutout made at the service, which alone reads a restricted dataset's bytes."""
        cone = f"{region.ra_deg!r},{region.dec_deg!r},{region.radius_deg!r}"
        with self.client.stream(_path(record.dataset_id) + "/cutout", params={"version": record.version, "region": cone},
                                timeout=SLOW_TIMEOUT) as fh:  # the service reads the whole image first
            return fh.read()

    # sources ----------------------------------------------------------------------------------------
    def sources(self) -> list[dict]:
        return self.client.request("GET", "api/sources")["sources"]

    def may_view_source(self, name: str) -> bool:
        found = next((s for s in self.sources() if s["name"] == name), None)
        if found is None:
            raise UnknownSource(f"no source named {name!r}")
        return bool(found.get("viewable", True))

    def source(self, name: str):
        """The source as this server may reach it itself (a HiPS survey's tiles, with this server's own
        credentials for it): its kind, URI and options as the service lists them."""
        found = next((s for s in self.sources() if s["name"] == name), None)
        if found is None:
            raise UnknownSource(f"no source named {name!r}")
        credentials = resolve_credentials(name, uri=found["uri"], config=self._credentials,
                                          use_hub_token=self._use_hub_token)
        return source_class(found["kind"])(name, found["uri"], options=found.get("options") or {},
                                           credentials=credentials)

    def add_source(self, name: str, kind: str, uri: str, *, options: dict | None = None) -> dict:
        """Admins only (the service's ``sources`` scope): a shared registry's sources are the admins'."""
        return self.client.request("POST", "api/sources", {"name": name, "kind": kind, "uri": uri,
                                                           "options": dict(options or {})}, timeout=SLOW_TIMEOUT)

    def sync(self, name: str | None = None, *, force: bool = False, progress=None) -> list[SyncReport]:
        path = "api/sources/sync" if name is None else f"api/sources/{quote(name, safe='')}/sync"
        doc = self.client.request("POST", path, {}, params={"force": "true" if force else "false"}, timeout=SYNC_TIMEOUT)
        return [report_from_json(r) for r in doc["reports"]]

