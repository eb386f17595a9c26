"""Analysis jobs on a real hub: two users, each in a server of their own, submitting through REST behind
the proxy. A user never sees, reads or cancels the other's jobs; every job is authorized and charged by
the hub service (allocation, an admin's approval above the GPU-hour threshold); a Slurm job's charge is
Slurm's own accounting."""

from __future__ import annotations

import hashlib
import html
import json
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import nbformat
import pytest
import requests

from tests.browser import shot
from tests.hub import JOB_ENV, own_hub
from tests.models.conftest import real  # noqa: F401  (the real catalogue the detection tables come from)
from tests.services import REPO
from tests.spawners.recorded_runs import detection_tables, record_consensus  # noqa: F401  (a fixture)

pytestmark = pytest.mark.timeout(600)
OWNER, OTHER = "vlt-frank", "vlt-grace"
FIRST = "tacc:first/J105007+304037.fits"  # a FIRST image of the sample, at RA 162.53, Dec +30.68


def tiny_notebook(user: str) -> dict:
    """A notebook in the user's home (their notebook directory) and a manifest that runs it."""
    home = pwd.getpwnam(user)
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("i = 0\ninputs = {}", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("open('square.txt', 'w').write(str(i * i))")],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    path = f"{home.pw_dir}/tiny.ipynb"
    nbformat.write(nb, path)
    os.chown(path, home.pw_uid, home.pw_gid)
    digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
    return {"manifest_version": 1, "site": "local", "notebook": {"path": "tiny.ipynb", "sha256": digest},
            "inputs": []}


def same_notebook(owner: str, other: str, manifest: dict) -> dict:
    """``manifest`` for ``other``, over a copy of ``owner``'s notebook (the same bytes: the same analysis)."""
    account = pwd.getpwnam(other)
    target = Path(account.pw_dir) / manifest["notebook"]["path"]
    shutil.copyfile(Path(pwd.getpwnam(owner).pw_dir) / manifest["notebook"]["path"], target)
    os.chown(target, account.pw_uid, account.pw_gid)
    return manifest


@pytest.fixture
def jobs_config():
    """The servers' job sites, in a folder every account can read (pytest's own is root's alone)."""
    folder = Path(tempfile.mkdtemp(prefix="vlass-jobs-config-"))
    folder.chmod(0o755)
    shutil.copy(REPO / "hub_config" / "profiles.yaml", folder / "profiles.yaml")
    config = folder / "jobs.json"
    config.write_text(json.dumps({"sites": {
        "local": {"kind": "local", "python": str(JOB_ENV / "bin" / "python"), "rate": 3600.0},
        "slurm": {"kind": "slurm", "environment": str(JOB_ENV), "poll_interval": 1.0}},
        "profiles": str(folder / "profiles.yaml")}))
    subprocess.run(["chmod", "-R", "a+rX", str(folder)], check=True)
    try:
        yield config
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_jobs_are_private_authorized_and_charged_by_the_hub(slurm, job_env, tmp_path, jobs_config, detection_tables,
                                                           page):
    config = jobs_config
    for name in (OWNER, OTHER):  # their servers' own job history from earlier runs on this machine: their
        # servers' monitors would report any job of it not yet charged to this new hub's dashboard
        shutil.rmtree(Path(pwd.getpwnam(name).pw_dir) / ".local" / "share" / "jupyter-vlass", ignore_errors=True)
    with own_hub(tmp_path / "hub", users=(OWNER, OTHER), JUPYTER_VLASS_JOBS_CONFIG=str(config)) as hub:
        hub.user(OWNER, allocation=1000.0)
        hub.user(OTHER, allocation=0.0)
        for name in (OWNER, OTHER):
            assert hub.spawn(name, {"profile": "local"}).status_code in (201, 202)
        tokens = {name: hub.token_for(name) for name in (OWNER, OTHER)}
        for name in (OWNER, OTHER):
            hub.wait_ready(name)

        def call(name, method, path="", **kwargs):
            return requests.request(method, f"{hub.url}/user/{name}/vlass/api/jobs{path}", timeout=120,
                                    headers={"Authorization": f"token {tokens[name]}"}, **kwargs)

        def until_ended(name, job_id, timeout=180):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                doc = call(name, "GET", f"/{job_id}").json()
                if doc["state"] in ("done", "failed", "cancelled"):
                    return doc
                time.sleep(1)
            raise AssertionError(f"job {job_id} did not end: {doc}")

        # A local job, charged to the owner's project at the local rate (here 1 SU per second). The ledger may
        # already hold Slurm's accounting of earlier jobs of this account (a development cluster): compare deltas.
        synced = hub.service("POST", "/api/jobs/charges", token=tokens[OWNER],  # sacct into the ledger now
                             json={"project": OWNER, "site_kind": "slurm", "job_id": "0"})
        assert synced.status_code == 200 and synced.json()["charged"] is False, synced.text
        before = hub.service("GET", f"/api/allocations/{OWNER}").json()["spent_su"]
        run = time.time_ns() // 1000  # the accounts keep their servers' state from earlier runs on a dev machine
        [latest, *_] = requests.get(f"{hub.url}/user/{OWNER}/vlass/api/datasets/{FIRST}", timeout=60,
                                    headers={"Authorization": f"token {tokens[OWNER]}"}).json()["versions"]
        pin = {"id": FIRST, "version": latest["version"], "sha256": latest["sha256"]}  # found by its sky region later
        manifest = {**tiny_notebook(OWNER), "parameters": {"i": run}, "inputs": [pin]}
        submitted = call(OWNER, "POST", json=manifest)
        assert submitted.status_code in (200, 201), submitted.text
        job = until_ended(OWNER, submitted.json()["id"])
        assert job["state"] == "done" and job["project"] == OWNER, job
        balance = hub.service("GET", f"/api/allocations/{OWNER}").json()
        assert balance["spent_su"] == pytest.approx(before + job["su"], abs=0.01) and job["su"] > 0

        # The other user sees none of it, and cannot read, log or cancel it.
        assert job["id"] not in {j["id"] for j in call(OTHER, "GET").json()["jobs"]}
        for method, path in (("GET", ""), ("GET", "/log"), ("DELETE", "")):
            refused = call(OTHER, method, f"/{job['id']}{path}")
            assert refused.status_code == 404 and refused.json()["reason"] == "unknown_job", refused.text

        # A user whose allocation is spent is refused before anything runs.
        broke = call(OTHER, "POST", json={**tiny_notebook(OTHER), "parameters": {"i": run + 3}})
        assert broke.status_code == 403 and broke.json()["reason"] == "allocation_exceeded", broke.text
        [failed] = [j for j in call(OTHER, "GET").json()["jobs"] if j["parameters"] == {"i": run + 3}]
        assert failed["state"] == "failed" and failed["site_job_id"] is None

        # Above the approval threshold (2 A100 x 5 h = 10 GPU-hours > 8) a Slurm job waits for an admin.
        big = {**manifest, "site": "slurm", "profile": "tacc-a100", "parameters": {"i": run + 1},
               "resources": {"gpus": 2, "walltime": "5h"}}
        waiting = call(OWNER, "POST", json=big)
        assert waiting.status_code == 403 and waiting.json()["reason"] == "awaiting_approval", waiting.text
        [pending] = hub.service("GET", "/api/approvals", params={"status": "pending"}).json()["approvals"]
        assert pending["user"] == OWNER and pending["gpu_hours"] == 10
        decided = hub.service("POST", f"/api/approvals/{pending['id']}", json={"decision": "approve"})
        assert decided.status_code == 200, decided.text
        again = call(OWNER, "POST", json=big)
        assert again.status_code in (200, 201), again.text
        slurm_job = until_ended(OWNER, again.json()["id"])
        assert slurm_job["state"] == "done" and slurm_job["project"] == OWNER, slurm_job
        used = hub.service("GET", f"/api/approvals/{pending['id']}").json()
        assert used["used"] is True  # one approval, one job

        # Its charge is Slurm's accounting (node-hours x the partition's rate), in the hub's ledger.
        deadline = time.monotonic() + 60
        while not slurm_job["charged"] and time.monotonic() < deadline:
            time.sleep(2)
            slurm_job = call(OWNER, "GET", f"/{slurm_job['id']}").json()
        assert slurm_job["charged"], slurm_job
        after = hub.service("GET", f"/api/allocations/{OWNER}").json()
        assert after["spent_su"] == pytest.approx(balance["spent_su"] + slurm_job["su"], abs=0.01)
        assert slurm_job["su"] > 0

        # The same analysis delivered elsewhere is a cache hit: no compute, no charge.
        hit = call(OWNER, "POST", json={**manifest, "output": {"path": "again"}})
        assert hit.status_code in (200, 201) and hit.json()["cached_from"] == "local", hit.text
        assert call(OWNER, "GET", f"/{hit.json()['id']}").json()["su"] == 0

        # The dashboard: everything for an admin, one's own for a user; the same as Prometheus metrics.
        figures = hub.service("GET", "/dashboard", params={"format": "json"}).json()
        counts = {(j["site"], j["state"]): j["count"] for j in figures["jobs"]}
        assert counts == {("local", "done"): 2, ("slurm", "done"): 1}, figures
        assert figures["cache"] == {"hits": 1, "computed": 2, "hit_rate": pytest.approx(1 / 3)}
        assert figures["submissions"]["success_rate"] == 1.0  # refusals are decisions, not failed submissions
        assert figures["su"]["project"][OWNER] == pytest.approx(after["spent_su"], abs=0.01)
        assert sum(j["su"] for j in (job, slurm_job)) == pytest.approx(after["spent_su"] - before, abs=0.01)
        assert set(figures["queue_wait_s"]) == {"local", "slurm"}
        assert set(figures["status_lag_s"]) == {"slurm"} and 0 <= figures["status_lag_s"]["slurm"]["max"] < 10
        dashboard = hub.service("GET", "/dashboard")
        assert dashboard.status_code == 200 and dashboard.text.count("<svg") >= 4 and OWNER in dashboard.text
        own = requests.get(f"{hub.url}/services/vlass/dashboard", params={"format": "json"}, timeout=30,
                           headers={"Authorization": f"token {tokens[OTHER]}"}).json()
        assert own["jobs"] == [] and set(own["su"]["user"]) <= {OTHER}  # only their own rows
        metrics = hub.service("GET", "/metrics")
        assert metrics.status_code == 200
        assert 'vlass_jobs_total{site="slurm",state="done"} 1.0' in metrics.text
        assert 'vlass_jobs_rate{rate="cache_hit"} 0.333' in metrics.text
        refused = requests.get(f"{hub.url}/services/vlass/metrics", timeout=30,
                               headers={"Authorization": f"token {tokens[OWNER]}"})
        assert refused.status_code == 403

        check_results_are_hub_wide(hub, tokens, job, call(OTHER, "POST", json=same_notebook(OWNER, OTHER, manifest)))

        # Publishing: the hub service signs the owner's capsule with the site's key; no user holds it.
        check_capsules_are_signed_by_the_hub(hub, tokens, job["id"], detection_tables, page)


def check_results_are_hub_wide(hub, tokens, computed, submitted):
    """The owner's result answers the other user's submission of the same analysis from the hub's copy (the
    other's allocation is spent: a hit costs nothing); nobody offers a result for a job not their own."""
    from jupyter_vlass.jobs.archive import pack

    assert submitted.status_code in (200, 201), submitted.text
    hit = submitted.json()
    assert hit["state"] == "done" and hit["cached_from"] == "hub" and hit["su"] == 0, hit
    assert hit["result_key"] == computed["result_key"]
    files = {f["name"]: f["sha256"] for f in hit["result"]["files"]}
    assert files == {f["name"]: f["sha256"] for f in computed["result"]["files"]} and "square.txt" in files
    held = hub.state / "results" / computed["result_key"]
    assert held.stat().st_uid == 0 and held.stat().st_mode & 0o777 == 0o700  # the service's copy, its alone
    shown = hub.service("GET", f"/api/results/{computed['result_key']}", token=tokens[OTHER])
    assert shown.status_code == 200 and shown.json()["user"] == OWNER, shown.text
    run_id = f"{computed['id']}.{computed['attempt']}"
    for name, job_id in ((OTHER, run_id), (OWNER, "j0000000000000000.1")):  # the owner's job; no such job
        offered = hub.service("POST", f"/api/results/{computed['result_key']}", token=tokens[name],
                              params={"job_id": job_id}, data=pack(held),
                              headers={"Content-Type": "application/x-tar"})
        assert offered.status_code == 409 and offered.json()["reason"] == "result_refused", offered.text
    again = hub.service("POST", f"/api/results/{computed['result_key']}", token=tokens[OWNER],
                        params={"job_id": run_id}, data=pack(held), headers={"Content-Type": "application/x-tar"})
    assert again.status_code == 200 and again.json()["new"] is False, again.text  # the positive control
    dropped = hub.service("DELETE", f"/api/results/{computed['result_key']}", token=tokens[OTHER])
    assert dropped.status_code == 403, dropped.text
    unknown = hub.service("GET", "/api/results/" + "0" * 64, token=tokens[OTHER])
    assert unknown.status_code == 404 and unknown.json()["reason"] == "unknown_result", unknown.text


def check_capsules_are_signed_by_the_hub(hub, tokens, job_id, tables, page):
    def server(name, method, path, **kwargs):
        return requests.request(method, f"{hub.url}/user/{name}/vlass/api{path}", timeout=120,
                                headers={"Authorization": f"token {tokens[name]}"}, **kwargs)

    published = server(OWNER, "POST", "/analyses", json={"job_id": job_id})
    assert published.status_code == 201, published.text
    capsule = published.json()
    site_keys = hub.service("GET", "/api/keys", token=tokens[OWNER]).json()["keys"]
    assert capsule["key_id"] in {k["key_id"] for k in site_keys} and capsule["owner"] == OWNER
    assert server(OWNER, "GET", "/keys").json()["keys"] == site_keys  # the server verifies with the hub's keys
    home = Path(pwd.getpwnam(OWNER).pw_dir)
    assert not list(home.glob(".local/share/jupyter-vlass/keys/private/*.pem"))  # no private key of its own
    public = home / "hub-public.pem"
    public.write_text(next(k["public_key_pem"] for k in site_keys if k["key_id"] == capsule["key_id"]))
    checked = subprocess.run([str(JOB_ENV / "bin" / "model_signing"), "verify", "key", capsule["path"],
                              "--public_key", str(public), "--signature", f"{capsule['path']}/capsule.sig"],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr  # the third-party verifier, with the hub's public key
    banner = server(OWNER, "GET", "/notebook-check",
                    params={"path": Path(capsule["path"]).relative_to(home).as_posix() + "/notebook.ipynb"})
    assert banner.json()["status"] == "verified" and banner.json()["marks"] == [], banner.text

    # Review is hub-wide: a mark made at the service shows on the owner's banner; a consensus recorded there
    # is what the owner's server answers for the dataset.
    marked = hub.service("POST", "/api/marks", json={"subject": f"capsule:{capsule['capsule_id']}", "mark": "Updated",
                                                     "explanation": "a newer FIRST calibration moves two sources"})
    assert marked.status_code == 200, marked.text
    [mark] = server(OWNER, "GET", "/notebook-check", params={
        "path": Path(capsule["path"]).relative_to(home).as_posix() + "/notebook.ipynb"}).json()["marks"]
    assert mark["mark"] == "Updated" and "calibration" in mark["explanation"]
    result = record_consensus(hub, OTHER, tokens[OTHER], dataset="tacc:first/J105007+304037.fits",
                              version="hub-test", tables=tables)
    seen = server(OWNER, "GET", "/datasets/tacc:first/J105007+304037.fits/multi-site-consensus",
                  params={"version": "hub-test"})
    assert seen.status_code == 200 and seen.json()["id"] == result["id"] and seen.json()["gate"]["passed"], seen.text

    # The other user cannot publish the owner's job, nor have the owner's capsule signed as theirs.
    refused = server(OTHER, "POST", "/analyses", json={"job_id": job_id})
    assert refused.status_code == 404 and refused.json()["reason"] == "unknown_job", refused.text
    from google.protobuf import json_format
    from model_signing._signing import signing

    from jupyter_vlass.reproducibility.signing import _hashing

    statement = json_format.MessageToJson(signing.Payload(_hashing().hash(Path(capsule["path"]))).statement.pb)
    crate = Path(capsule["path"], "ro-crate-metadata.json").read_text()
    forged = hub.service("POST", "/api/capsules/sign", token=tokens[OTHER], json={"statement": statement,
                                                                                  "crate": crate})
    assert forged.status_code == 403 and OWNER in forged.json()["message"], forged.text
    log = hub.service("GET", "/api/capsules/signatures", token=tokens[OWNER]).json()["signatures"]
    assert [(s["capsule_id"], s["user"]) for s in log] == [(capsule["capsule_id"], OWNER)]
    assert hub.service("GET", "/api/capsules/signatures", token=tokens[OTHER]).json()["signatures"] == []
    rotate = hub.service("POST", "/api/keys/rotate", token=tokens[OWNER])
    assert rotate.status_code == 403  # an approver's act
    check_capsules_are_hub_wide(hub, tokens, capsule, server, page)


def check_capsules_are_hub_wide(hub, tokens, capsule, server, page):
    """Published capsules live in the service's store: every user finds them, forks are linked to their parent,
    a mark follows the lineage to every derived capsule, and nobody's kernel or token can put a capsule there
    that the site's key did not sign for them."""
    capsule_id = capsule["capsule_id"]
    stored = hub.state / "capsules" / capsule_id
    assert (stored / "capsule.sig").is_file() and stored.stat().st_uid == 0  # the service's, in the hub's state
    listed = server(OTHER, "GET", "/analyses").json()["analyses"]
    assert [a["id"] for a in listed] == [capsule_id] and listed[0]["owner"] == OWNER, listed

    # The other user finds it in the gallery, previews it and forks it (a new parameter) into their own server:
    # the entry's page links the hub's user-redirect to the fork page of their server, which shows the
    # compatibility report, submits the fork and opens its notebook in their JupyterLab.
    hub.user(OTHER, allocation=1000.0)
    i = json.loads(Path(stored, "job-manifest.json").read_text())["parameters"]["i"]
    entry = hub.service("GET", f"/gallery/{capsule_id}", token=tokens[OTHER])
    assert entry.status_code == 200 and "default-src 'none'" in entry.headers["Content-Security-Policy"], entry.text[:300]
    assert "square.txt" in entry.text and html.escape(capsule["title"]) in entry.text  # the executed notebook
    link = f"/hub/user-redirect/vlass/fork/{capsule_id}"
    assert f'href="{link}">Fork into my server' in entry.text
    browser = hub.login(OTHER)  # as a reader's browser: the hub's cookie, then the server's through OAuth
    form = browser.get(hub.url + link, timeout=60)
    assert form.url == f"{hub.url}/user/{OTHER}/vlass/fork/{capsule_id}", form.url
    assert form.status_code == 200 and "Compatibility report" in form.text and f'value="{i}"' in form.text, form.text
    unprotected = browser.post(form.url, data={"action": "fork", "param:i": str(i + 2)}, timeout=60)
    assert unprotected.status_code == 403, unprotected.text  # a cookie-authenticated form needs its XSRF token
    notebook = f"replays/{capsule_id[:16]}/tiny.ipynb"
    fork_in_chromium(hub, page, capsule, i, notebook)
    [job_id] = [j["id"] for j in server(OTHER, "GET", "/jobs").json()["jobs"]
                if j["notebook"] == notebook and j["parameters"] == {"i": i + 2}]
    deadline = time.monotonic() + 180
    while (state := server(OTHER, "GET", f"/jobs/{job_id}").json()["state"]) not in ("done", "failed"):
        assert time.monotonic() < deadline, state
        time.sleep(1)
    assert state == "done"
    child = server(OTHER, "POST", "/analyses", json={"job_id": job_id})
    assert child.status_code == 201, child.text
    child = child.json()
    assert child["parent"] == capsule_id and child["owner"] == OTHER
    seen = server(OWNER, "GET", "/analyses").json()["analyses"]
    assert {a["id"] for a in seen} == {capsule_id, child["capsule_id"]}  # the owner finds the fork too
    shown = hub.service("GET", f"/api/capsules/{child['capsule_id']}", token=tokens[OWNER]).json()
    read = json.loads(Path(stored, "job-manifest.json").read_text())["inputs"][0]
    assert shown["lineage"] == [f"{FIRST}@{read['version']}", f"capsule:{capsule_id}"], shown  # the tile, the original
    assert shown["key_id"] == child["key_id"], shown

    # A mark on the original follows to the fork (made after it or before), shown on the fork's own banner.
    retracted = hub.service("POST", "/api/marks", json={"subject": f"capsule:{capsule_id}", "mark": "Retracted",
                                                        "explanation": "the square of i is not i squared"})
    assert retracted.status_code == 200, retracted.text
    home = Path(pwd.getpwnam(OTHER).pw_dir)
    banner = server(OTHER, "GET", "/notebook-check", params={
        "path": Path(child["path"]).relative_to(home).as_posix() + "/notebook.ipynb"}).json()
    assert banner["status"] == "verified", banner
    marks = {(m["mark"], m["because"]) for m in banner["marks"]}
    assert marks == {("Updated", f"capsule:{capsule_id}"), ("Retracted", f"capsule:{capsule_id}")}, banner
    # The gallery: both, the original retracted with its fork counted, the fork retracted through its parent.
    gallery = hub.service("GET", "/api/gallery", token=tokens[OTHER]).json()
    entries = {e["id"]: e for e in gallery["entries"]}
    assert gallery["total"] == 2 and entries[capsule_id]["forks"] == 1 and entries[capsule_id]["replays"] == 0
    assert entries[capsule_id]["status"] == entries[child["capsule_id"]]["status"] == "retracted", gallery
    assert gallery["facets"]["author"] == {OWNER: 1, OTHER: 1}, gallery["facets"]
    mine = hub.service("GET", "/api/gallery", token=tokens[OTHER], params={"author": OTHER}).json()
    assert [e["id"] for e in mine["entries"]] == [child["capsule_id"]]
    bad = hub.service("GET", "/api/gallery", token=tokens[OTHER], params={"sort": "oldest"})
    assert bad.status_code == 400 and bad.json()["reason"] == "invalid_argument", bad.text
    listing = hub.service("GET", "/gallery", token=tokens[OTHER])
    assert listing.status_code == 200 and 'class="tombstone">Retracted by ' in listing.text, listing.text[:500]
    assert "the square of i is not i squared" in listing.text and "Derived from it:" in listing.text
    tombstone_in_chromium(hub, page, capsule_id, child["capsule_id"])
    # The provenance of the fork: derived from the original (a fork), which the retraction invalidates.
    chain = hub.service("GET", "/api/provenance", token=tokens[OWNER], params={"capsule": child["capsule_id"]}).json()
    [derivation] = chain["wasDerivedFrom"].values()
    assert (derivation["prov:generatedEntity"], derivation["prov:usedEntity"], derivation["prov:type"]["$"]) == \
        (f"capsule:{child['capsule_id']}", f"capsule:{capsule_id}", "vlass:Fork"), derivation
    assert [i["prov:entity"] for i in chain["wasInvalidatedBy"].values()] == [f"capsule:{capsule_id}"]
    # An institute's report: a hub group's analyses (the service reads its members from the hub), an author's.
    hub.user(OWNER, groups=("vlt-frank-lab",), allocation=None)

    def capsules_in(**params) -> set[str]:
        answer = hub.service("GET", "/api/provenance", token=tokens[OTHER], params=params)
        assert answer.status_code == 200, answer.text
        return {k for k, e in answer.json()["entity"].items() if e.get("prov:type", {}).get("$") == "vlass:Capsule"}
    assert capsules_in(group="vlt-frank-lab") == {f"capsule:{capsule_id}"}
    assert capsules_in(author=OTHER) == {f"capsule:{capsule_id}", f"capsule:{child['capsule_id']}"}  # and its parent
    # A grant added by the author after publishing (audited): the report by award finds it; nobody else adds one.
    grant = {"funder": "U.S. National Science Foundation", "funder_id": "https://ror.org/021nxhr62", "award": "AST-2434562"}
    refused = hub.service("POST", f"/api/capsules/{capsule_id}/funding", token=tokens[OTHER], json=grant)
    assert refused.status_code == 403, refused.text
    added = hub.service("POST", f"/api/capsules/{capsule_id}/funding", token=tokens[OWNER], json=grant)
    assert added.status_code == 201 and added.json()["funding"] == [grant], added.text
    assert capsules_in(award="AST-2434562") == {f"capsule:{capsule_id}"}
    check_a_grant_report_passes_the_validators(hub, tokens[OTHER], "AST-2434562")
    report = hub.service("GET", "/api/provenance", token=tokens[OTHER], params={"award": "AST-2434562", "format": "summary"})
    assert report.status_code == 200 and report.headers["Content-Type"].startswith("text/markdown"), report.text
    assert report.headers["Content-Disposition"] == "attachment; filename=provenance.md"
    assert "| Analyses | 1 (1 completed, 0 failed runs) |" in report.text and f"sha256:{capsule_id}" in report.text
    [local] = [[c.strip() for c in line.split("|")[1:-1]] for line in report.text.splitlines() if line.startswith("| local |")]
    assert local[:3] == ["local", "1", "0"] and float(local[3]) > 0 and local[4] == "0", local  # its SUs, as charged
    assert FIRST.split(":", 1)[1] in report.text.split("### Data")[1] and "under award AST-2434562" in report.text
    [record] = hub.service("GET", "/api/provenance", token=tokens[OTHER],
                           params={"capsule": capsule_id, "format": "datacite"}).json()
    assert record["fundingReferences"][0]["awardNumber"] == "AST-2434562"
    no_group = hub.service("GET", "/api/provenance", token=tokens[OTHER], params={"group": "no-such-group"})
    assert no_group.status_code == 400 and "no hub group" in no_group.json()["message"], no_group.text
    hidden = hub.service("GET", "/api/provenance", token=tokens[OWNER], params={"capsule": "e" * 64})
    assert hidden.status_code == 404 and hidden.json()["reason"] == "unknown_analysis", hidden.text
    # A copy of the fork's notebook elsewhere is matched at the service by its run and its bytes.
    crate = json.loads(Path(child["path"], "ro-crate-metadata.json").read_text())
    run_id = next(e["@id"] for e in crate["@graph"] if e.get("@type") == "CreateAction")
    digest = hashlib.sha256(Path(child["path"], "notebook.ipynb").read_bytes()).hexdigest()
    for sha256, status in ((digest, "verified"), ("0" * 64, "modified")):
        copy = hub.service("POST", "/api/capsules/check", token=tokens[OWNER], json={"run_id": run_id, "sha256": sha256})
        assert copy.json()["capsule_id"] == child["capsule_id"] and copy.json()["status"] == status, copy.text

    # Refused: posting the owner's capsule as the other's, a capsule whose bytes changed after signing, one
    # holding a link, a derived list chosen by the caller, a mark on a capsule the hub does not hold.
    import io
    import tarfile

    from jupyter_vlass.jobs.archive import pack

    def post_capsule(name, data):
        return hub.service("POST", "/api/capsules", token=tokens[name], data=data,
                           headers={"Content-Type": "application/x-tar"})
    original = pack(stored)
    assert post_capsule(OWNER, original).status_code == 200  # the positive control: already held, nothing new
    stolen = post_capsule(OTHER, original)
    assert stolen.status_code == 403 and OWNER in stolen.json()["message"], stolen.text
    changed = Path(tempfile.mkdtemp(prefix="vlass-changed-"))
    try:
        shutil.copytree(Path(child["path"]), changed / "c")
        (changed / "c" / "outputs" / "square.txt").write_text("1")
        tampered = post_capsule(OTHER, pack(changed / "c"))
        assert tampered.status_code == 422 and tampered.json()["reason"] == "capsule_changed", tampered.text
    finally:
        shutil.rmtree(changed)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        link = tarfile.TarInfo("outputs/square.txt")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/shadow"
        tar.addfile(link)
    linked = post_capsule(OTHER, buffer.getvalue())
    assert linked.status_code == 400 and linked.json()["reason"] == "bad_archive", linked.text
    derived = hub.service("POST", "/api/marks", json={"subject": f"capsule:{child['capsule_id']}", "mark": "Updated",
                                                      "explanation": "x", "derived": [f"capsule:{capsule_id}"]})
    assert derived.status_code == 400, derived.text
    unknown = hub.service("POST", "/api/marks", json={"subject": f"capsule:{'e' * 64}", "mark": "Updated",
                                                      "explanation": "x"})
    assert unknown.status_code == 404 and unknown.json()["reason"] == "unknown_analysis", unknown.text
    held = sorted(p.name for p in (hub.state / "capsules").iterdir())
    assert held == sorted([capsule_id, child["capsule_id"]]), held  # nothing half-written
    # A byte of the stored original changed behind the service's back: never shown as standing again.
    square = stored / "outputs" / "square.txt"
    square.write_text(square.read_text() + " ")
    shown = {e["id"]: e["status"] for e in hub.service("GET", "/api/gallery", token=tokens[OTHER]).json()["entries"]}
    assert shown == {capsule_id: "unverified", child["capsule_id"]: "retracted"}, shown


def fork_in_chromium(hub, page, capsule: dict, i: int, notebook: str) -> None:
    """The reader in headless Chromium: signs in at the hub's login page, finds the analysis in the gallery by
    the sky region of the tile it read (and not elsewhere) with its standing, opens its entry (the executed notebook),
    forks it into their server with a new parameter after the compatibility report, and lands in JupyterLab."""
    gallery = f"{hub.url}/services/vlass/gallery"
    page.goto(f"{hub.url}/hub/login?next={quote('/services/vlass/gallery')}")
    page.fill("input[name=username]", OTHER)
    page.fill("input[name=password]", "vlass-demo")
    page.click("#login_submit")
    page.wait_for_url(f"{gallery}*", timeout=60_000)
    shot(page, "gallery-1-signed-in")
    for region, found in (("10,-40,1", 0), ("162.53,30.68,0.5", 1)):
        page.fill("form.search input[name=region]", region)
        page.click("form.search:not(.report) button")
        page.wait_for_load_state()
        assert f"{found} analyses match" in page.inner_text("body"), (region, page.inner_text("body")[:800])
    shot(page, "gallery-2-found-by-region")
    entry = page.locator(".entry").first
    text = entry.inner_text()  # its standing: updated by the expert's mark made before, and why
    assert capsule["title"] in text and text.startswith("updated") and "newer FIRST calibration" in text, text
    page.click(f"a[href='gallery/{capsule['capsule_id']}']")
    page.wait_for_url(f"{gallery}/{capsule['capsule_id']}", timeout=30_000)
    assert "square.txt" in page.inner_text(".preview") and page.locator(".preview script").count() == 0
    shot(page, "gallery-3-entry-preview")
    page.click("a.fork")
    page.wait_for_url(f"{hub.url}/user/{OTHER}/vlass/fork/{capsule['capsule_id']}*", timeout=60_000)
    assert "Compatibility report" in page.inner_text("body")
    page.fill("input[name='param:i']", str(i + 2))
    page.click("button[value=check]")
    page.wait_for_load_state()
    assert f"parameter i: {i} -> {i + 2}" in page.inner_text("ul.report"), page.inner_text("body")
    shot(page, "gallery-4-compatibility-report")
    page.click("button[value=fork]")
    page.wait_for_url(f"{hub.url}/user/{OTHER}/lab/tree/{notebook}*", timeout=60_000)
    page.wait_for_selector(".jp-NotebookPanel", timeout=90_000)  # the fork open in the reader's JupyterLab
    shot(page, "gallery-5-fork-in-lab")


def tombstone_in_chromium(hub, page, original: str, fork: str) -> None:
    """After the retraction, the reader's gallery shows the tombstone (why, by whom, what derives from it) and the
    fork's own entry says it derives from a retracted analysis."""
    page.goto(f"{hub.url}/services/vlass/gallery")
    tombstone = page.locator(f"[id='{original}'] .tombstone")
    assert "the square of i is not i squared" in tombstone.inner_text() and "Derived from it" in tombstone.inner_text()
    shot(page, "gallery-6-tombstone")
    page.goto(f"{hub.url}/services/vlass/gallery/{fork}")
    assert "retracted" in page.inner_text(".status").lower(), page.inner_text("body")[:800]
    shot(page, "gallery-7-derived-warning")


def check_a_grant_report_passes_the_validators(hub, token: str, award: str) -> None:
    """The grant's report from the service, as an institute downloads it: PROV-JSON valid against the schema in
    the ``prov`` wheel, every DataCite record valid against the ``datacite`` package's 4.5 schema."""
    import jsonschema
    import prov
    from datacite import schema45

    chain = hub.service("GET", "/api/provenance", token=token, params={"award": award}).json()
    schema = json.loads((Path(prov.__file__).parent / "tests" / "schemas" / "prov-json.schema.json").read_text())
    jsonschema.validate(chain, schema)
    records = hub.service("GET", "/api/provenance", token=token, params={"award": award, "format": "datacite"}).json()
    assert records and all(schema45.validate(r) for r in records), [list(schema45.validator.iter_errors(r)) for r in records]
