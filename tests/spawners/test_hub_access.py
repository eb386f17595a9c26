"""Access tiers on a real hub whose service holds the registry (PostgreSQL): two users, each in a server of
their own. The embargoed image is found, counted, described, cut out, read and listed by SIA2 (and the widget)
only for the user whose hub group its source grants; the other user gets the answers of an id that never
existed, whatever their own kernel tries: the Python API, the service's REST API, the file itself, the
database. Sources are added and synced by the hub's admins only."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import requests

from jupyter_vlass.federation import Registry
from tests.hub import own_hub

pytestmark = pytest.mark.timeout(400)
REGION = "162.53,30.677,0.1"  # the real FIRST cutout of the sample manifest
WIDGET = ("from jupyter_vlass.widgets.browser import DatasetBrowser\n"
          f"browser = DatasetBrowser(region={REGION!r})\n"
          "result = browser.search()\n"
          "print(sum(h.access_tier == 'embargoed' for h in result.hits), len(browser.datasets.options))\n")


@pytest.fixture
def shared_registry(postgres_url, sample_data):
    """A hub's registry (PostgreSQL) with the sample object-store manifest (real FIRST and RACS files) on a
    mount every user can read, its FIRST image embargoed for the group cosmicai and readable by the service's
    account (root here) alone."""
    folder = Path(tempfile.mkdtemp(prefix="vlass-shared-"))
    shutil.copytree(sample_data["manifest"].parent, folder / "tacc")
    manifest = json.loads((folder / "tacc" / "manifest.json").read_text())
    for entry in manifest["objects"]:
        if entry["key"].startswith("first/"):
            entry["access_tier"] = "embargoed"
    (folder / "tacc" / "manifest.json").write_text(json.dumps(manifest))
    subprocess.run(["chmod", "-R", "a+rX", str(folder)], check=True)
    for entry in manifest["objects"]:
        if entry["key"].startswith("first/"):
            os.chmod(folder / "tacc" / entry["key"], 0o600)
    admin = Registry(postgres_url, groups=())
    admin.add_source("tacc", "posix", str(folder / "tacc" / "manifest.json"), options={"access_groups": "cosmicai"})
    assert admin.sync()[0].status == "ok"
    admin.close()
    admin.engine.dispose()
    try:
        yield postgres_url, folder
    finally:
        shutil.rmtree(folder)


def test_each_user_sees_what_their_hub_groups_grant(slurm, job_env, tmp_path, shared_registry):
    team, outsider = "vlt-dave", "vlt-erin"
    database, folder = shared_registry
    with own_hub(tmp_path / "hub", users=(team, outsider), VLASS_REGISTRY_DB=database) as hub:
        hub.user(team, groups=("cosmicai",))
        hub.user(outsider, groups=("students",))
        for name in (team, outsider):
            assert hub.spawn(name, {"profile": "local"}).status_code in (201, 202)
        tokens = {name: hub.token_for(name) for name in (team, outsider)}
        for name in (team, outsider):
            hub.wait_ready(name)

        def get(name, *path, **params):
            return requests.get(f"{hub.url}/user/{name}/vlass/{'/'.join(path)}", params=params, timeout=60,
                                headers={"Authorization": f"token {tokens[name]}"})

        def embargoed(name):
            found = get(name, "api", "datasets", region=REGION)
            assert found.status_code == 200, found.text
            return [d["id"] for d in found.json()["datasets"] if d["access_tier"] == "embargoed"]

        [dataset_id] = embargoed(team)
        assert embargoed(outsider) == []
        counts = {name: get(name, "api", "sources").json()["sources"][0]["datasets"] for name in (team, outsider)}
        assert counts[team] == counts[outsider] + 1
        assert get(team, "api", "datasets", dataset_id).status_code == 200
        cut = get(team, "api", "cutout", id=dataset_id, region="162.53,30.677,0.02")
        assert cut.content[:6] == b"SIMPLE", cut.text
        assert dataset_id.encode() in get(team, "sia2", "query", POS="CIRCLE 162.53 30.677 0.1").content
        assert b"embargoed" not in get(outsider, "sia2", "query", POS="CIRCLE 162.53 30.677 0.1").content
        for refused in (get(outsider, "api", "datasets", dataset_id),
                        get(outsider, "api", "cutout", id=dataset_id, region="162.53,30.677,0.02")):
            assert refused.status_code == 404 and refused.json()["reason"] == "unknown_dataset"
        # The widget in each user's own kernel asks the hub for its user's groups too.
        team_seen, team_options = hub.run_in_kernel(team, WIDGET, tokens[team]).split()
        outsider_seen, outsider_options = hub.run_in_kernel(outsider, WIDGET, tokens[outsider]).split()
        assert (team_seen, outsider_seen) == ("1", "0") and int(team_options) == int(outsider_options) + 1


IN_KERNEL = """
import hashlib, json, os, pathlib
from jupyter_vlass.exceptions import VlassError
from jupyter_vlass.federation import Region, Registry
out = {{}}
registry = Registry()
out["kind"] = type(registry).__name__
hits = registry.search(Region.parse({region!r})).hits
out["embargoed"] = [h.dataset_id for h in hits if h.access_tier == "embargoed"]
try:
    record = registry.get({dataset_id!r})
    with registry.open(record) as fh:
        out["read"] = hashlib.sha256(fh.read()).hexdigest() == record.sha256
except VlassError as error:
    out["read"] = error.reason
try:
    registry.add_source("evil", "posix", {manifest!r})
    out["add"] = "added"
except VlassError as error:
    out["add"] = error.reason
try:
    open({path!r}, "rb").read(8)
    out["file"] = "read"
except OSError as error:
    out["file"] = type(error).__name__
out["db_env"] = sorted(k for k, v in os.environ.items() if "postgresql" in v or k == "JUPYTER_VLASS_DB")
out["db_argv"] = sum(b"postgresql+psycopg://" in p.read_bytes() for p in pathlib.Path("/proc").glob("[0-9]*/cmdline")
                     if p.exists() and os.access(p, os.R_OK))
import psycopg
try:
    psycopg.connect({guess!r}, connect_timeout=5).close()
    out["db"] = "connected"
except psycopg.OperationalError as error:
    out["db"] = "refused"
print(json.dumps(out))
"""


def test_the_service_holds_the_registry_and_only_admins_change_its_sources(slurm, job_env, tmp_path, shared_registry):
    """From each user's own kernel: ``Registry()`` is the service's; the embargoed bytes reach the granted user
    through the service, never the other (whose kernel cannot open the file, find the database URL anywhere, or
    connect to the database without its password); nobody's kernel adds a source; the admin's token does."""
    team, outsider = "vlt-dave", "vlt-erin"
    database, folder = shared_registry
    first = next(p for p in (folder / "tacc").rglob("*") if p.is_file() and p.stat().st_mode & 0o077 == 0)
    with own_hub(tmp_path / "hub", users=(team, outsider), VLASS_REGISTRY_DB=database) as hub:
        hub.user(team, groups=("cosmicai",))
        hub.user(outsider, groups=("students",))
        hub.user("vlt-admin", groups=("cosmicai",), allocation=None)  # marks the embargoed image below
        for name in (team, outsider):
            assert hub.spawn(name, {"profile": "local"}).status_code in (201, 202)
        tokens = {name: hub.token_for(name) for name in (team, outsider)}
        tokens["vlt-admin"] = hub.api("POST", "/users/vlt-admin/tokens", json={
            "scopes": ["access:services", "custom:vlass-sources:manage", "custom:vlass-approvals:decide"],
            "expires_in": 3600}).json()["token"]
        for name in (team, outsider):
            hub.wait_ready(name)
        found = requests.get(f"{hub.url}/services/vlass/api/datasets", params={"region": REGION}, timeout=60,
                             headers={"Authorization": f"token {tokens[team]}"}).json()
        [dataset_id] = [d["id"] for d in found["datasets"] if d["access_tier"] == "embargoed"]
        guess = database.replace("+psycopg", "").split("://", 1)
        guess = f"{guess[0]}://postgres@{guess[1].split('@', 1)[1]}"  # host, port and name, no password
        code = IN_KERNEL.format(region=REGION, dataset_id=dataset_id, manifest=str(folder / "tacc" / "manifest.json"),
                                path=str(first), guess=guess)
        seen = {name: json.loads(hub.run_in_kernel(name, code, tokens[name], timeout=120).strip().splitlines()[-1])
                for name in (team, outsider)}
        assert seen[team]["kind"] == seen[outsider]["kind"] == "HubRegistry", seen
        assert seen[team]["embargoed"] == [dataset_id] and seen[outsider]["embargoed"] == [], seen
        assert seen[team]["read"] is True and seen[outsider]["read"] == "unknown_dataset", seen
        for name in (team, outsider):
            assert seen[name]["add"] == "forbidden", seen
            assert seen[name]["file"] == "PermissionError", seen
            assert seen[name]["db_env"] == [] and seen[name]["db_argv"] == 0, seen
            assert seen[name]["db"] == "refused", seen
        # The same calls straight to the service from the outsider's token: refused, and nothing changed.
        before = requests.get(f"{hub.url}/services/vlass/api/sources", timeout=60,
                              headers={"Authorization": f"token {tokens['vlt-admin']}"}).json()["sources"]
        for method, path in (("GET", f"api/datasets/{dataset_id.replace('/', '%2F')}/data"),
                             ("GET", f"api/datasets/{dataset_id.replace('/', '%2F')}/cutout?region=162.53,30.677,0.02"),
                             ("POST", "api/sources"), ("POST", "api/sources/tacc/sync")):
            answer = requests.request(method, f"{hub.url}/services/vlass/{path}", timeout=60,
                                      json={"name": "evil", "kind": "posix", "uri": str(folder)},
                                      headers={"Authorization": f"token {tokens[outsider]}"})
            assert answer.status_code in (403, 404), (path, answer.status_code, answer.text)
            assert answer.json()["reason"] in ("forbidden", "unknown_dataset"), answer.text
        # Positive control: the admin (the sources scope) adds and syncs one; the embargoed bytes through REST
        # for the granted user match the version's sha256.
        added = requests.post(f"{hub.url}/services/vlass/api/sources", timeout=60, json={
            "name": "tacc2", "kind": "posix", "uri": str(folder / "tacc" / "manifest.json")},
            headers={"Authorization": f"token {tokens['vlt-admin']}"})
        assert added.status_code == 201, added.text
        assert [s["name"] for s in before] == ["tacc"]
        data = requests.get(f"{hub.url}/services/vlass/api/datasets/{dataset_id.replace('/', '%2F')}/data",
                            timeout=60, headers={"Authorization": f"token {tokens[team]}"})
        assert data.status_code == 200 and hashlib.sha256(data.content).hexdigest() == first_sha(folder, first)
        check_marks_follow_the_registry_lineage(hub, tokens, folder, dataset_id, (team, outsider))


def check_marks_follow_the_registry_lineage(hub, tokens, folder, embargoed_id, users):
    """The admin retracts the embargoed image; the public RACS image the admin's source now says derives from
    it carries the mark: named to the granted user, unnamed (and its explanation unquoted) to the outsider,
    who cannot read the parent's own marks either."""
    team, outsider = users

    def call(name, method, path, **kwargs):
        return requests.request(method, f"{hub.url}/services/vlass/{path}", timeout=60,
                                headers={"Authorization": f"token {tokens[name]}"}, **kwargs)

    quoted = embargoed_id.replace("/", "%2F")
    parent = call(team, "GET", f"api/datasets/{quoted}/record").json()
    manifest = json.loads((folder / "tacc" / "manifest.json").read_text())
    child = next(e for e in manifest["objects"] if not e["key"].startswith("first/"))
    child["derived_from"] = [f"{parent['uri']}@{parent['version']}"]
    (folder / "tacc" / "manifest.json").write_text(json.dumps(manifest))
    synced = call("vlt-admin", "POST", "api/sources/tacc/sync", params={"force": "true"})
    assert synced.status_code == 200 and synced.json()["reports"][0]["status"] == "ok", synced.text
    child_record = call(team, "GET", f"api/datasets/{quote_id('tacc:' + child['key'])}/record").json()
    parent_pin, child_pin = f"{embargoed_id}@{parent['version']}", f"tacc:{child['key']}@{child_record['version']}"
    made = call("vlt-admin", "POST", "api/marks", json={"subject": parent_pin, "mark": "Retracted",
                                                        "explanation": f"{embargoed_id}: RFI in the whole field"})
    assert made.status_code == 200, made.text
    [named] = call(team, "GET", "api/marks", params={"subject": child_pin}).json()["marks"]
    assert (named["mark"], named["because"], named["by"]) == ("Retracted", parent_pin, "vlt-admin"), named
    seen = call(outsider, "GET", "api/marks", params={"subject": child_pin})
    [unnamed] = seen.json()["marks"]
    assert (unnamed["mark"], unnamed["because"], unnamed["by"]) == ("Retracted", "restricted", None), unnamed
    assert embargoed_id not in seen.text and "RFI" not in seen.text
    hidden = call(outsider, "GET", "api/marks", params={"subject": parent_pin})
    assert hidden.status_code == 404 and hidden.json()["reason"] == "unknown_dataset", hidden.text
    unknown = call("vlt-admin", "POST", "api/marks", json={"subject": "tacc:none@v1", "mark": "Updated",
                                                           "explanation": "x"})
    assert unknown.status_code == 404 and unknown.json()["reason"] == "unknown_dataset", unknown.text


def quote_id(dataset_id: str) -> str:
    return dataset_id.replace("/", "%2F")


def first_sha(folder: Path, path: Path) -> str:
    manifest = json.loads((folder / "tacc" / "manifest.json").read_text())
    [entry] = [e for e in manifest["objects"] if (folder / "tacc" / e["key"]) == path]
    return entry["sha256"]
