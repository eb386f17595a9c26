"""/vlass/api/jobs through a real jupyter_server: submit a manifest, watch, read the log, cancel; the
result cache figures; bad manifests are 400 naming the JSON path."""

from __future__ import annotations

import asyncio
import json

import pytest
from tornado.httpclient import HTTPClientError

from tests.jobs.jobs_fixtures import ANALYSIS, manifest, slow_notebook
from tests.hub import JOB_ENV

FIRST = "tacc:first/J105007+304037.fits"
pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def jp_root_dir(area):
    return area


@pytest.fixture
def jp_server_config(area, demo_registry, job_env, job_accounts):
    return {"ServerApp": {"jpserver_extensions": {"jupyter_vlass": True}},
            "VlassApp": {"db_url": demo_registry.engine.url.render_as_string(hide_password=False),
                         "job_sites": {"local": {"kind": "local", "python": str(JOB_ENV / "bin" / "python")}},
                         "job_account": job_accounts[0], "jobs_dir": str(area / "jobs")}}


async def call(jp_fetch, method, *path, body=None, **params):
    kwargs = {"method": method, "params": params}
    if body is not None:
        kwargs["body"] = json.dumps(body)
    response = await jp_fetch("vlass", "api", *path, **kwargs)
    return response.code, json.loads(response.body)


async def until_ended(jp_fetch, job_id, timeout=150):
    for _ in range(int(timeout / 0.5)):
        _, job = await call(jp_fetch, "GET", "jobs", job_id)
        if job["state"] in ("done", "failed", "cancelled"):
            return job
        await asyncio.sleep(0.5)
    raise AssertionError(f"job {job_id} still {job['state']}")


async def test_submit_watch_log_and_the_cache(jp_fetch, area, demo_registry):
    doc = manifest(area, inputs=[demo_registry.get(FIRST)], parameters={"threshold": 4.0})
    code, job = await call(jp_fetch, "POST", "jobs", body=doc)
    assert code == 201 and job["state"] in ("running", "done") and job["site"] == "local"
    _, again = await call(jp_fetch, "POST", "jobs", body=doc)
    assert again["id"] == job["id"]
    done = await until_ended(jp_fetch, job["id"])
    assert done["state"] == "done" and {f["name"] for f in done["result"]["files"]} >= {"catalogue.ecsv"}
    _, listed = await call(jp_fetch, "GET", "jobs")
    assert [j["id"] for j in listed["jobs"]] == [job["id"]]
    _, log = await call(jp_fetch, "GET", "jobs", job["id"], "log", lines="50")
    assert "Executing notebook" in log["log"] or "Kernel" in log["log"]
    _, cache = await call(jp_fetch, "GET", "cache")
    assert cache["entries"] == 1 and cache["per_site"] == {"local": 1} and cache["computed"] == 1


async def test_cancel_through_rest(jp_fetch, area):
    _, job = await call(jp_fetch, "POST", "jobs", body=manifest(area, notebook=slow_notebook(area),
                                                                parameters={"seconds": 120}))
    _, cancelled = await call(jp_fetch, "DELETE", "jobs", job["id"])
    assert cancelled["state"] == "cancelled" and cancelled["reason"] == "cancelled by you"


@pytest.mark.parametrize("path, body, status, reason, words", [
    (("jobs",), {"manifest_version": 2, "site": "local", "notebook": {"path": "a.ipynb", "sha256": "0" * 64}},
     400, "invalid_manifest", "$.manifest_version"),
    (("jobs",), {"manifest_version": 1}, 400, "invalid_manifest", "'notebook' is a required property"),
    (("jobs",), {"manifest_version": 1, "site": "local", "notebook": {"path": "/etc/passwd", "sha256": "0" * 64}},
     400, "invalid_manifest", "$.notebook.path"),
    (("jobs", "j0000000000000000"), None, 404, "unknown_job", "no job"),
    (("jobs", "j0000000000000000", "log"), None, 404, "unknown_job", "no job"),
])
async def test_errors_are_json_with_a_reason(jp_fetch, path, body, status, reason, words):
    with pytest.raises(HTTPClientError) as info:
        await call(jp_fetch, "POST" if body is not None else "GET", *path, body=body)
    error = json.loads(info.value.response.body)
    assert info.value.code == status and error["reason"] == reason and words in error["message"]


async def test_the_sites_public_keys(jp_fetch, tmp_path, monkeypatch):
    from jupyter_vlass.reproducibility.keys import Keyring

    keyring = Keyring(tmp_path / "keys")
    first, second = keyring.current(), keyring.rotate()
    monkeypatch.setenv("JUPYTER_VLASS_KEYS", str(keyring.folder))
    code, body = await call(jp_fetch, "GET", "keys")
    assert code == 200 and [k["key_id"] for k in body["keys"]] == [first, second]
    assert body["keys"][0]["retired"] and body["keys"][1]["retired"] is None
    assert body["keys"][1]["public_key_pem"].startswith("-----BEGIN PUBLIC KEY-----")
    assert "PRIVATE" not in json.dumps(body)


async def test_publish_show_manifest_and_fork_analyses(jp_fetch, area, demo_registry, tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_VLASS_KEYS", str(tmp_path / "keys"))
    monkeypatch.setenv("JUPYTER_VLASS_CAPSULES", str(tmp_path / "capsules"))
    code, job = await call(jp_fetch, "POST", "jobs", body=manifest(area, inputs=[demo_registry.get(FIRST)],
                                                                   parameters={"threshold": 4.0}))
    job = await until_ended(jp_fetch, job["id"])
    assert job["state"] == "done"
    code, published = await call(jp_fetch, "POST", "analyses", body={"job_id": job["id"]})
    assert code == 201 and published["new"] and published["parameters"] == {"threshold": 4.0}
    capsule_id = published["capsule_id"]
    code, again = await call(jp_fetch, "POST", "analyses", body={"job_id": job["id"]})
    assert code == 200 and again["capsule_id"] == capsule_id and not again["new"]
    code, listed = await call(jp_fetch, "GET", "analyses")
    assert [a["id"] for a in listed["analyses"]] == [capsule_id]
    response = await jp_fetch("vlass", "api", "analyses", capsule_id, "reproducibility-manifest")
    assert response.headers["Content-Type"].startswith("application/ld+json")
    assert json.loads(response.body)["creator"][0]["name"] == published["owner"]

    code, dry = await call(jp_fetch, "POST", "analyses", capsule_id, "fork",
                           body={"parameters": {"thresh": 3}, "dry_run": True})
    assert code == 200 and not dry["report"]["compatible"]
    with pytest.raises(HTTPClientError) as refused:
        await call(jp_fetch, "POST", "analyses", capsule_id, "fork", body={"parameters": {"thresh": 3}})
    body = json.loads(refused.value.response.body)
    assert refused.value.code == 409 and body["reason"] == "not_compatible"
    assert body["report"]["findings"][-1]["what"] == "parameter thresh"
    code, forked = await call(jp_fetch, "POST", "analyses", capsule_id, "fork", body={})
    assert code == 201 and forked["report"]["compatible"] and forked["job"]["id"] != job["id"]
    replayed = await until_ended(jp_fetch, forked["job"]["id"])
    code, child = await call(jp_fetch, "POST", "analyses", body={"job_id": replayed["id"]})
    assert code == 201 and child["parent"] == capsule_id
    code, board = await call(jp_fetch, "GET", "leaderboard")
    assert board["analyses"] == [{"id": capsule_id, "title": published["title"], "replays": 1,
                                  "identical_outputs": 1}]

    # The fork page (where the gallery's "Fork into my server" lands): the report first; a breaking change
    # stops the fork and says so; a fork is submitted and its notebook opened in JupyterLab.
    from urllib.parse import urlencode

    async def form(**fields):
        return await jp_fetch("vlass", "fork", capsule_id, method="POST", body=urlencode(fields), raise_error=False,
                              follow_redirects=False, headers={"Content-Type": "application/x-www-form-urlencoded"})
    page = await jp_fetch("vlass", "fork", capsule_id)
    text = page.body.decode()
    assert page.code == 200 and "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert "Compatibility report" in text and 'name="param:threshold" value="4.0"' in text, text
    checked = await form(action="check", **{"param:threshold": "3.5"})
    assert checked.code == 200 and "parameter threshold: 4.0 -&gt; 3.5" in checked.body.decode()
    gone = await form(action="fork", **{f"version:{FIRST}": "v99"})
    assert gone.code == 409 and "v99 is no longer available" in gone.body.decode() and "fork anyway" in gone.body.decode()
    forked = await form(action="fork", **{"param:threshold": "3.5"})
    notebook = f"replays/{capsule_id[:16]}/{ANALYSIS.name}"
    assert forked.code == 303 and forked.headers["Location"].endswith(f"/lab/tree/{notebook}"), forked.body
    _, jobs = await call(jp_fetch, "GET", "jobs")
    assert [j["parameters"] for j in jobs["jobs"] if j["notebook"] == notebook and j["id"] != replayed["id"]] == \
        [{"threshold": 3.5}]
    bad_action = await form(action="delete")
    assert bad_action.code == 400
    for bad in ("0" * 64, "not-an-id"):
        with pytest.raises(HTTPClientError) as unknown:
            await call(jp_fetch, "GET", "analyses", bad)
        assert unknown.value.code == 404 and json.loads(unknown.value.response.body)["reason"] == "unknown_analysis"

    # The banner's question: is this notebook a published capsule's, as published?
    import shutil

    shutil.copytree(tmp_path / "capsules" / capsule_id, area / "capsule-copy")
    shutil.copyfile(area / "capsule-copy" / "notebook.ipynb", area / "published.ipynb")
    for path in ("capsule-copy/notebook.ipynb", "published.ipynb"):
        code, checked = await call(jp_fetch, "GET", "notebook-check", path=path)
        assert (code, checked["status"], checked["capsule_id"]) == (200, "verified", capsule_id), checked
    (area / "capsule-copy" / "outputs" / "summary.json").chmod(0o644)
    (area / "capsule-copy" / "outputs" / "summary.json").write_text("{}")
    code, checked = await call(jp_fetch, "GET", "notebook-check", path="capsule-copy/notebook.ipynb")
    assert checked["status"] == "modified" and "outputs/summary.json" in checked["message"]
    edited = json.loads((area / "published.ipynb").read_text())
    edited["cells"].append({"cell_type": "markdown", "metadata": {}, "source": "my note", "id": "mine"})
    (area / "published.ipynb").write_text(json.dumps(edited))
    code, checked = await call(jp_fetch, "GET", "notebook-check", path="published.ipynb")
    assert checked["status"] == "modified" and checked["capsule_id"] == capsule_id
    for path, status in (("analysis-rms-catalogue.ipynb", 404), ("../etc/passwd", 400), ("", 400)):
        with pytest.raises(HTTPClientError) as refused:
            await call(jp_fetch, "GET", "notebook-check", path=path)
        assert refused.value.code == status
