"""Hub-wide search quotas on a real hub: the hub service holds one bucket per user, so every server (every
token) of that user draws from it; another user is not affected; a user's server asks it before each
search (Registry with HubSearchQuota) and gets no hits and a ``rate_limited`` status, with when to retry,
once the quota is spent."""

from __future__ import annotations

import pytest
import requests

from jupyter_vlass.federation import Region, Registry
from jupyter_vlass.hub_client import HubSearchQuota, HubServiceClient
from tests.hub import own_hub

pytestmark = pytest.mark.timeout(300)
FRANK, GINA = "vlq-frank", "vlq-gina"


def _servers_token(hub, name: str) -> str:
    """A token as a user's server holds one (each server has its own)."""
    response = hub.api("POST", f"/users/{name}/tokens", json={"scopes": ["access:services"], "expires_in": 3600})
    response.raise_for_status()
    return response.json()["token"]


def test_search_quota_is_one_per_user_across_servers(tmp_path, registry, sample_data):
    with own_hub(tmp_path / "hub", VLASS_SEARCH_QUOTA="3/h", VLASS_PAGE_RATE="6/min") as hub:
        for name in (FRANK, GINA):
            hub.user(name, allocation=None)
        first, second, other = _servers_token(hub, FRANK), _servers_token(hub, FRANK), _servers_token(hub, GINA)
        assert hub.service("GET", "/api/quotas/search", token=first).json() == {"quota": "3/h"}
        for token in (first, second, first):
            taken = hub.service("POST", "/api/quotas/search", token=token)
            assert taken.status_code == 200 and taken.json() == {"user": FRANK, "limited": True}, taken.text
        spent = hub.service("POST", "/api/quotas/search", token=second)
        assert spent.status_code == 429 and spent.json()["reason"] == "rate_limited", spent.text
        assert spent.json()["retry_after"] > 0 and int(spent.headers["Retry-After"]) >= 1
        assert hub.service("POST", "/api/quotas/search", token=other).status_code == 200  # Gina's own bucket
        anonymous = requests.post(f"{hub.url}/services/vlass/api/quotas/search", allow_redirects=False, timeout=30)
        assert anonymous.status_code in (302, 401, 403)  # no token: refused
        check_the_gallery_is_rate_limited_per_user(hub, first, second, other)

        # A user's server: the registry asks the hub service before each search.
        registry.add_source("vlass", "vlass", str(sample_data["vlass"]))
        registry.sync()
        region = Region.from_degrees(209.25, -18.0, 0.5)
        service = f"{hub.url}/services/vlass/"
        gina = Registry(registry.engine, shared_quota=HubSearchQuota(HubServiceClient(service, token=other)))
        assert len(gina.search(region, user=GINA).hits) == 2  # Gina's second search of three
        frank = Registry(registry.engine, shared_quota=HubSearchQuota(HubServiceClient(service, token=first)))
        refused = frank.search(region, user=FRANK).status_of("vlass")  # as a per-user quota says it
        assert refused.status == "rate_limited" and refused.retry_after > 0 and "quota" in refused.message, refused

    # The hub service gone: searching goes on (a quota must not stop discovery).
    gone = Registry(registry.engine, shared_quota=HubSearchQuota(HubServiceClient(service, token=first, timeout=2)))
    assert len(gone.search(region, user=FRANK).hits) == 2


def check_the_gallery_is_rate_limited_per_user(hub, first: str, second: str, other: str) -> None:
    """At 6 a minute (ten seconds' worth at once: one), a reader's second gallery request in a row is refused
    with when to retry, whichever token and page or export; another reader is not affected."""
    assert hub.service("GET", "/api/gallery", token=first).status_code == 200
    for token, path in ((first, "/api/gallery"), (second, "/gallery"), (second, "/api/provenance?since=2026-01-01")):
        refused = hub.service("GET", path, token=token)
        assert refused.status_code == 429 and refused.json()["reason"] == "rate_limited", (path, refused.text)
        assert 1 <= int(refused.headers["Retry-After"]) <= 10
    assert hub.service("GET", "/gallery", token=other).status_code == 200
