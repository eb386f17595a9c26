"""Access tiers on a real hub: two users, one shared registry, each in a server of their own. The embargoed
image is found, counted, described, cut out and listed by SIA2 (and the widget) only for the user whose hub
group its source grants; the other user gets the answers of an id that never existed."""

from __future__ import annotations

import json
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
    mount every user can read, its FIRST image embargoed for the group cosmicai."""
    folder = Path(tempfile.mkdtemp(prefix="vlass-shared-"))
    shutil.copytree(sample_data["manifest"].parent, folder / "tacc")
    manifest = json.loads((folder / "tacc" / "manifest.json").read_text())
    for entry in manifest["objects"]:
        if entry["key"].startswith("first/"):
            entry["access_tier"] = "embargoed"
    (folder / "tacc" / "manifest.json").write_text(json.dumps(manifest))
    subprocess.run(["chmod", "-R", "a+rX", str(folder)], check=True)
    admin = Registry(postgres_url, groups=())
    admin.add_source("tacc", "posix", str(folder / "tacc" / "manifest.json"), options={"access_groups": "cosmicai"})
    assert admin.sync()[0].status == "ok"
    admin.close()
    admin.engine.dispose()
    try:
        yield postgres_url
    finally:
        shutil.rmtree(folder)


def test_each_user_sees_what_their_hub_groups_grant(slurm, job_env, tmp_path, shared_registry):
    team, outsider = "vlt-dave", "vlt-erin"
    with own_hub(tmp_path / "hub", users=(team, outsider), VLASS_REGISTRY_DB=shared_registry) as hub:
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
        assert get(team, "api", "cutout", id=dataset_id, region="162.53,30.677,0.02").content[:6] == b"SIMPLE"
        assert dataset_id.encode() in get(team, "sia2", "query", POS="CIRCLE 162.53 30.677 0.1").content
        assert b"embargoed" not in get(outsider, "sia2", "query", POS="CIRCLE 162.53 30.677 0.1").content
        for refused in (get(outsider, "api", "datasets", dataset_id),
                        get(outsider, "api", "cutout", id=dataset_id, region="162.53,30.677,0.02")):
            assert refused.status_code == 404 and refused.json()["reason"] == "unknown_dataset"
        # The widget in each user's own kernel asks the hub for its user's groups too.
        team_seen, team_options = hub.run_in_kernel(team, WIDGET, tokens[team]).split()
        outsider_seen, outsider_options = hub.run_in_kernel(outsider, WIDGET, tokens[outsider]).split()
        assert (team_seen, outsider_seen) == ("1", "0") and int(team_options) == int(outsider_options) + 1
