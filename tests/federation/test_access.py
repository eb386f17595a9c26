"""Access tiers: restricted and embargoed datasets stay with the groups their source grants, in the
Python API, the REST API, SIA2, cutouts and the CLI; to anyone else they do not exist, count included."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tornado.httpclient import HTTPClientError

from jupyter_vlass.exceptions import InvalidSource, UnknownDataset
from jupyter_vlass.federation import Registry, Region

FIRST = Region.from_degrees(162.53, 30.677, 0.1)  # the real FIRST cutout of the sample manifest


@pytest.fixture
def restricted_manifest(sample_data, tmp_path) -> Path:
    """The sample object-store manifest (real FIRST and RACS files) with its FIRST image embargoed."""
    folder = tmp_path / "tacc"
    shutil.copytree(Path(sample_data["manifest"]).parent, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    for entry in manifest["objects"]:
        if entry["key"].startswith("first/"):
            entry["access_tier"] = "embargoed"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder / "manifest.json"


@pytest.fixture
def db_url(tmp_path, restricted_manifest) -> str:
    url = f"sqlite:///{tmp_path / 'registry.sqlite'}"
    admin = Registry(url, groups=())
    admin.add_source("tacc", "posix", str(restricted_manifest), options={"access_groups": "vlass-team, cosmicai"})
    assert admin.sync()[0].status == "ok"
    return url


def test_python_api_shows_restricted_data_to_its_groups_only(db_url):
    team, outsider = Registry(db_url, groups=["cosmicai"]), Registry(db_url, groups=["students"])
    hit = [h for h in team.search(FIRST).hits if h.access_tier == "embargoed"]
    assert len(hit) == 1
    dataset_id = hit[0].dataset_id
    assert [h for h in outsider.search(FIRST).hits if h.dataset_id == dataset_id] == []
    assert team.sources()[0]["datasets"] == outsider.sources()[0]["datasets"] + 1
    record = team.get(dataset_id)
    with team.open(record) as fh:
        assert fh.read(6) == b"SIMPLE"
    for call in (lambda: outsider.get(dataset_id), lambda: outsider.describe(dataset_id),
                 lambda: outsider.versions(dataset_id), lambda: outsider.open(record)):
        with pytest.raises(UnknownDataset) as info:
            call()
        assert "no dataset" in info.value.message  # the same answer as for an id that never existed
    assert team.viewer(["students"]).search(FIRST).status_of("tacc").count == outsider.search(FIRST).status_of("tacc").count


def test_access_groups_must_be_plain_group_names(tmp_path, restricted_manifest):
    registry = Registry(f"sqlite:///{tmp_path / 'r.sqlite'}", groups=())
    with pytest.raises(InvalidSource, match="option access_groups: .* is not a group name"):
        registry.add_source("x", "posix", str(restricted_manifest), options={"access_groups": "ok, $(id)"})
    assert registry.sources() == []


def test_cli_shows_the_embargoed_image_only_to_a_granted_hub_user(db_url, tmp_path):
    """The CLI asks the hub which groups its user is in (as in a user's terminal on the hub)."""
    import http.server
    import threading

    groups = {"value": ["students"]}

    class FakeHubAPI(http.server.BaseHTTPRequestHandler):  # the hub's GET /hub/api/user, nothing else
        def do_GET(self):
            ok = self.path == "/hub/api/user" and self.headers.get("Authorization") == "token t0k"
            body = json.dumps({"name": "alice", "groups": groups["value"]}).encode() if ok else b"{}"
            self.send_response(200 if ok else 403)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeHubAPI)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {"JUPYTERHUB_API_URL": f"http://127.0.0.1:{server.server_address[1]}/hub/api",
           "JUPYTERHUB_API_TOKEN": "t0k", "PATH": "/usr/bin:/bin"}
    try:
        def search():
            done = subprocess.run([sys.executable, "-m", "jupyter_vlass.cli", "--db", db_url, "datasets", "search",
                                   "--region", "162.53,30.677,0.1", "--json"], capture_output=True, text=True, env=env)
            assert done.returncode == 0, done.stderr
            return [h for h in json.loads(done.stdout)["datasets"] if h["access_tier"] == "embargoed"]
        assert search() == []
        groups["value"] = ["vlass-team"]
        assert len(search()) == 1
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def jp_server_config(tmp_path, db_url, request):
    return {"ServerApp": {"jpserver_extensions": {"jupyter_vlass": True}},
            "VlassApp": {"db_url": db_url, "cache_dir": str(tmp_path / "cache"),
                         "local_groups": getattr(request, "param", [])}}


async def _embargoed_id(jp_fetch) -> list[str]:
    response = await jp_fetch("vlass", "api", "datasets", params={"region": "162.53,30.677,0.1"})
    return [d["id"] for d in json.loads(response.body)["datasets"] if d["access_tier"] == "embargoed"]


@pytest.mark.parametrize("jp_server_config", [["vlass-team"]], indirect=True)
async def test_rest_sia2_and_cutout_serve_the_granted_group(jp_fetch):
    [dataset_id] = await _embargoed_id(jp_fetch)
    assert (await jp_fetch("vlass", "api", "datasets", dataset_id)).code == 200
    cut = await jp_fetch("vlass", "api", "cutout", params={"id": dataset_id, "region": "162.53,30.677,0.02"})
    assert cut.body[:6] == b"SIMPLE"
    sia = await jp_fetch("vlass", "sia2", "query", params={"POS": "CIRCLE 162.53 30.677 0.1"})
    assert dataset_id.encode() in sia.body


async def test_rest_sia2_and_cutout_hide_it_from_everyone_else(jp_fetch, db_url):
    assert await _embargoed_id(jp_fetch) == []
    [hidden] = [h.dataset_id for h in Registry(db_url, groups=["vlass-team"]).search(FIRST).hits
                if h.access_tier == "embargoed"]
    sia = await jp_fetch("vlass", "sia2", "query", params={"POS": "CIRCLE 162.53 30.677 0.1"})
    assert b"embargoed" not in sia.body
    # the id is guessable; the answers are those of an id that does not exist
    for path, params in ((("api", "datasets", hidden), None),
                         (("api", "cutout"), {"id": hidden, "region": "162.53,30.677,0.02"})):
        with pytest.raises(HTTPClientError) as info:
            await jp_fetch("vlass", *path, params=params)
        assert info.value.code == 404 and json.loads(info.value.response.body)["reason"] == "unknown_dataset"


def test_lineage_names_a_restricted_parent_only_to_its_groups(db_url, restricted_manifest):
    """A public dataset derived from an embargoed one: its granted users see which; anyone else sees only that
    it has a restricted parent, neither its id nor its URI."""
    team, outsider = Registry(db_url, groups=["cosmicai"]), Registry(db_url, groups=["students"])
    embargoed = next(h for h in team.search(FIRST).hits if h.access_tier == "embargoed")
    parent = team.get(embargoed.dataset_id)
    manifest = json.loads(restricted_manifest.read_text())
    child = next(e for e in manifest["objects"] if not e["key"].startswith("first/"))
    child["derived_from"] = [f"{parent.uri}@{parent.version}"]
    restricted_manifest.write_text(json.dumps(manifest))
    assert Registry(db_url, groups=()).sync(force=True)[0].status == "ok"
    child_id = f"tacc:{child['key']}"

    granted = team.describe(child_id)["versions"][0]
    assert granted["derived_from_resolved"] == [{"pin": f"{parent.uri}@{parent.version}",
                                                 "id": embargoed.dataset_id, "version": parent.version}]
    seen = outsider.describe(child_id)
    assert seen["versions"][0]["derived_from_resolved"] == [{"pin": None, "id": None, "version": None,
                                                             "restricted": True}]
    text = json.dumps(seen)
    assert embargoed.dataset_id not in text and parent.uri not in text


def test_ancestors_follow_the_lineage_and_say_which_the_caller_may_not_see(db_url, restricted_manifest):
    """Two generations below an embargoed image: each caller gets the whole chain, nearest first, with the
    embargoed parent flagged hidden to the groups it is not granted to."""
    team, outsider = Registry(db_url, groups=["cosmicai"]), Registry(db_url, groups=["students"])
    embargoed = next(h for h in team.search(FIRST).hits if h.access_tier == "embargoed")
    parent = team.get(embargoed.dataset_id)
    manifest = json.loads(restricted_manifest.read_text())
    child = next(e for e in manifest["objects"] if not e["key"].startswith("first/"))
    # the grandchild: a copy of the child's real file under another key
    grandchild = {**child, "key": "copies/" + child["key"].rsplit("/", 1)[-1]}
    (restricted_manifest.parent / "copies").mkdir()
    shutil.copy(restricted_manifest.parent / child["key"], restricted_manifest.parent / grandchild["key"])
    manifest["objects"].append(grandchild)
    child["derived_from"] = [f"{parent.uri}@{parent.version}"]
    restricted_manifest.write_text(json.dumps(manifest))
    assert Registry(db_url, groups=()).sync(force=True)[0].status == "ok"
    middle = team.get(f"tacc:{child['key']}")
    grandchild["derived_from"] = [f"{middle.uri}@{middle.version}"]
    restricted_manifest.write_text(json.dumps(manifest))
    assert Registry(db_url, groups=()).sync(force=True)[0].status == "ok"
    bottom = team.get(f"tacc:{grandchild['key']}")
    start = [f"{bottom.dataset_id}@{bottom.version}"]
    middle_pin, top_pin = f"{middle.dataset_id}@{middle.version}", f"{parent.dataset_id}@{parent.version}"
    assert team.ancestors(start) == [(middle_pin, True), (top_pin, True)]
    assert outsider.ancestors(start) == [(middle_pin, True), (top_pin, False)]
    assert team.ancestors([top_pin]) == [] and team.ancestors(["tacc:none@v1"]) == []
