"""Run capsules of a real analysis job (papermill on the real FIRST cutout, the local site): published,
content-identified and signed offline with OpenSSF Model Signing; checked by our verify and by the
third-party ``model_signing verify``; a changed output, a changed metadata field, a missing file and an
unknown key are each refused by name; key rotation keeps old capsules verifiable."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_vlass.jobs.jobs import Jobs
from jupyter_vlass.jobs.sites import LocalSite
from jupyter_vlass.reproducibility.capsule import CapsuleChanged, publish, verify
from jupyter_vlass.reproducibility.keys import Keyring, UnknownKey
from tests.jobs.jobs_fixtures import manifest
from tests.hub import JOB_ENV

pytestmark = pytest.mark.timeout(300)
FIRST = "tacc:first/J105007+304037.fits"
MODEL_SIGNING = str(Path(sys.executable).parent / "model_signing")


@pytest.fixture
def done_job(demo_registry, area, job_env, job_accounts):
    site = LocalSite(python=str(JOB_ENV / "bin" / "python"), account=job_accounts[0])
    jobs = Jobs(demo_registry, sites={"local": site}, root=area, owner="alice", jobs_dir=area / "jobs")
    job = jobs.submit(manifest(area, inputs=[demo_registry.get(FIRST)], parameters={"threshold": 4.0}))
    assert job.wait(timeout=180).state == "done", job.log()
    return job


def third_party_verify(capsule: Path, public_pem: str, tmp_path: Path) -> subprocess.CompletedProcess:
    key = tmp_path / "public.pem"
    key.write_text(public_pem)
    return subprocess.run([MODEL_SIGNING, "verify", "key", str(capsule), "--public_key", str(key),
                           "--signature", str(capsule / "capsule.sig")], capture_output=True, text=True)


def test_a_published_run_is_signed_verifiable_and_names_what_changed(done_job, tmp_path):
    keyring = Keyring(tmp_path / "keys")
    capsule = publish(done_job, store=tmp_path / "capsules", keyring=keyring)
    assert capsule.new and capsule.path.name == capsule.capsule_id
    assert {p.name for p in capsule.path.iterdir()} == {"notebook.ipynb", "source.ipynb", "job-manifest.json",
                                                        "outputs", "ro-crate-metadata.json", "capsule.sig"}
    again = publish(done_job, store=tmp_path / "capsules", keyring=keyring)
    assert (again.capsule_id, again.new) == (capsule.capsule_id, False)  # content-identified, never rewritten

    crate = json.loads((capsule.path / "ro-crate-metadata.json").read_text())
    entities = {e["@id"]: e for e in crate["@graph"]}
    action = entities[f"#run-{done_job.id}"]
    assert action["@type"] == "CreateAction" and action["instrument"] == {"@id": "notebook.ipynb"}
    [dataset] = [entities[o["@id"]] for o in action["object"] if not o["@id"].startswith("#pv-")]
    assert dataset["identifier"].startswith(FIRST + "@") and len(dataset["sha256"]) == 64
    assert {"@id": "outputs/catalogue.ecsv"} in action["result"] and entities["./"]["mainEntity"] == {"@id": "notebook.ipynb"}
    notebook = json.loads((capsule.path / "notebook.ipynb").read_text())
    assert notebook["metadata"]["jupyter_vlass"]["ro-crate"] == crate  # the same JSON-LD, embedded
    assert FIRST in "".join(notebook["cells"][0]["source"])  # the dataset version cited

    assert verify(capsule.path, keyring=keyring)["verified"]
    public = keyring.public_key(capsule.key_id).pem
    assert third_party_verify(capsule.path, public, tmp_path).returncode == 0

    # Rotation: a new key signs from now on; the old capsule still verifies.
    new_key = keyring.rotate()
    assert new_key != capsule.key_id and verify(capsule.path, keyring=keyring)["key_id"] == capsule.key_id
    assert [k.retired is not None for k in keyring.public_keys()] == [True, False]

    # A site that never had the key refuses the capsule.
    with pytest.raises(UnknownKey):
        verify(capsule.path, keyring=Keyring(tmp_path / "other-site"))

    def tampered(name: str) -> Path:
        copy = tmp_path / name
        shutil.copytree(capsule.path, copy)
        return copy

    output = tampered("output-changed")
    (output / "outputs" / "summary.json").chmod(0o644)
    with open(output / "outputs" / "summary.json", "a") as fh:
        fh.write(" ")
    with pytest.raises(CapsuleChanged, match=r"changed since it was signed: outputs/summary\.json"):
        verify(output, keyring=keyring)
    assert third_party_verify(output, public, tmp_path).returncode != 0

    metadata = tampered("metadata-changed")
    crate["@graph"][[e["@id"] for e in crate["@graph"]].index(f"#run-{done_job.id}")]["endTime"] = "2030-01-01"
    (metadata / "ro-crate-metadata.json").write_text(json.dumps(crate))
    with pytest.raises(CapsuleChanged, match=rf"ro-crate-metadata\.json .*#run-{done_job.id}\.endTime"):
        verify(metadata, keyring=keyring)

    truncated = tampered("truncated")
    (truncated / "outputs" / "catalogue.ecsv").unlink()
    with pytest.raises(CapsuleChanged, match=r"truncated: outputs/catalogue\.ecsv missing"):
        verify(truncated, keyring=keyring)

    # The CLI: verify exits 0, or 2 with what changed; keys lists both keys.
    def cli(*args):
        return subprocess.run([sys.executable, "-m", "jupyter_vlass.cli", *args, "--keys", str(tmp_path / "keys")],
                              capture_output=True, text=True)

    assert cli("verify", str(capsule.path)).returncode == 0
    refused = cli("verify", str(output))
    assert refused.returncode == 2 and "outputs/summary.json" in refused.stderr
    listed = json.loads(cli("keys", "list", "--json").stdout)
    assert [k["key_id"] for k in listed] == [capsule.key_id, new_key]



@pytest.mark.parametrize("added", [".git/config", ".gitignore", ".gitattributes", ".github/workflow.yml",
                                   "outputs/.git/HEAD", ".hidden", "outputs/capsule.sig"])
def test_any_file_added_is_refused_whatever_its_name(done_job, tmp_path, added):
    """Git-looking and hidden names too (a git-aware hasher skips some), and a second capsule.sig below the root."""
    keyring = Keyring(tmp_path / "keys")
    capsule = publish(done_job, store=tmp_path / "capsules", keyring=keyring)
    copy = tmp_path / "added"
    shutil.copytree(capsule.path, copy)
    (copy / added).parent.mkdir(parents=True, exist_ok=True)
    (copy / added).write_text("slipped in after signing")
    with pytest.raises(CapsuleChanged, match=rf"files were added after signing: {re.escape(added)}"):
        verify(copy, keyring=keyring)
    done = subprocess.run([sys.executable, "-m", "jupyter_vlass.cli", "verify", str(copy), "--keys",
                           str(tmp_path / "keys")], capture_output=True, text=True)
    assert done.returncode == 2 and added in done.stderr and "Traceback" not in done.stderr
    (copy / added).unlink()  # the control: without it the copy verifies
    assert verify(copy, keyring=keyring)["verified"]


def test_a_signature_by_another_key_naming_the_sites_key_does_not_verify(done_job, tmp_path):
    site, other = Keyring(tmp_path / "site-keys"), Keyring(tmp_path / "other-keys")
    capsule = publish(done_job, store=tmp_path / "capsules", keyring=site)
    forged = publish(done_job, store=tmp_path / "elsewhere", keyring=other)  # the same files, another key
    bundle = json.loads((forged.path / "capsule.sig").read_text())
    bundle["verificationMaterial"]["publicKey"]["hint"] = capsule.key_id  # claims the site's key
    (capsule.path / "capsule.sig").chmod(0o644)
    (capsule.path / "capsule.sig").write_text(json.dumps(bundle))
    with pytest.raises(CapsuleChanged, match="the signature does not verify"):
        verify(capsule.path, keyring=site)
    done = subprocess.run([sys.executable, "-m", "jupyter_vlass.cli", "verify", str(capsule.path), "--keys",
                           str(tmp_path / "site-keys")], capture_output=True, text=True)
    assert done.returncode == 2 and "the signature does not verify" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr

def test_replay_and_fork_show_a_compatibility_report_and_a_science_diff(done_job, tmp_path):
    from jupyter_vlass.exceptions import Conflict
    from jupyter_vlass.reproducibility.diff import diff, figure
    from jupyter_vlass.reproducibility.replay import resubmit

    keyring, store, jobs = Keyring(tmp_path / "keys"), tmp_path / "capsules", done_job.jobs
    original = publish(done_job, store=store, keyring=keyring)
    from jupyter_vlass.reproducibility.replay import fork_choices

    choices = fork_choices(original.path, jobs.registry)  # what the fork page offers
    first = jobs.registry.get(FIRST)
    assert choices["inputs"] == [{"id": FIRST, "version": first.version,
                                  "versions": [r.version for r in jobs.registry.versions(FIRST)]}]
    assert choices["parameters"]["threshold"] == "4.0"  # as the capsule ran it (the notebook's default differs)

    replay_job, report = resubmit(original.path, jobs, keyring=keyring)
    assert [f.level for f in report.findings] == ["ok"] and not report.breaking
    status = replay_job.wait(timeout=180).status()
    assert status["state"] == "done" and status["cached_from"] is None  # computed again, not from the cache
    replay = publish(replay_job, store=store, keyring=keyring)
    assert replay.capsule_id != original.capsule_id
    root = next(e for e in json.loads((replay.path / "ro-crate-metadata.json").read_text())["@graph"]
                if e["@id"] == "./")
    assert root["isBasedOn"] == {"@id": f"capsule:{original.capsule_id}"}  # the replay links its parent

    same = diff(original.path, replay.path)
    catalogue = same.catalogues["catalogue.ecsv"]
    assert catalogue["original"] == catalogue["replay"] > 0
    assert (catalogue["added"], catalogue["lost"], catalogue["changed"]) == (0, 0, 0)
    assert same.scalars["summary.json"] == [] and all(i["changed_pixels"] == 0 for i in same.images.values())
    assert "0 new, 0 lost, 0 changed by more than 3σ" in str(same)

    # Breaking changes stop a fork before anything runs.
    for change, message in (({"parameters": {"thresh": 3.0}}, "parameter thresh: the notebook does not declare it"),
                            ({"datasets": {FIRST: f"{FIRST}@v99"}}, "no longer available")):
        with pytest.raises(Conflict, match=message):
            resubmit(original.path, jobs, keyring=keyring, **change)

    forked, report = resubmit(original.path, jobs, keyring=keyring, parameters={"threshold": 1.0})
    assert any(f.what == "parameter threshold" and "4.0 -> 1.0" in f.message for f in report.findings)
    assert forked.wait(timeout=180).state == "done"
    fork = publish(forked, store=store, keyring=keyring)
    changed = diff(original.path, fork.path)
    catalogue = changed.catalogues["catalogue.ecsv"]
    assert catalogue["lost"] == 0 and catalogue["replay"] == catalogue["original"] + catalogue["added"]
    assert catalogue["added"] > 0, "a lower threshold finds more peaks in the real FIRST cutout"
    assert any(c["path"].endswith(".sources") for c in changed.scalars["summary.json"])
    assert json.loads(json.dumps(changed.to_json()))["sigma"] == 3.0
    assert len(catalogue["added_sources"]) == catalogue["added"] and catalogue["lost_sources"] == []
    drawn = figure(changed, original.path, fork.path)
    [axes] = [a for a in drawn.axes if a.get_title().startswith("catalogue.ecsv")]
    labels = [t.get_text() for t in axes.get_legend().get_texts()]
    assert labels[:2] == [f"new ({catalogue['added']})", "lost (0)"]
    drawn.savefig(tmp_path / "diff.png")
    assert (tmp_path / "diff.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # The store: list, the leaderboard (a replay counts, a fork does not), the DataCite manifest, and the
    # analyses a new version of their dataset affects.
    from jupyter_vlass.reproducibility.store import CapsuleStore

    published = CapsuleStore(store)
    assert {a["id"] for a in published.list()} == {original.capsule_id, replay.capsule_id, fork.capsule_id}
    [top] = published.leaderboard()
    assert (top["id"], top["replays"]) == (original.capsule_id, 1)
    assert top["identical_outputs"] == 1  # papermill on the same bytes gave the same bytes
    manifest = published.datacite(fork.capsule_id)
    assert manifest["creator"] == [{"@type": "Person", "name": "alice"}] and manifest["publicationYear"].isdigit()
    relations = {r["relationType"]: r for r in manifest["isBasedOn"]}
    assert relations["IsDerivedFrom"]["identifier"].startswith(FIRST + "@")
    assert relations["IsVariantFormOf"]["identifier"] == f"capsule:{original.capsule_id}"
    pinned = published.show(original.capsule_id)["inputs"][0]["version"]
    affected = published.affected_by(FIRST, pinned + "-next")
    assert {a["id"] for a in affected} == {original.capsule_id, replay.capsule_id, fork.capsule_id}
    assert published.affected_by(FIRST, pinned) == []  # the same version affects nothing


def test_the_crate_passes_the_third_party_validator_and_every_flipped_byte_is_caught(done_job, tmp_path):
    import random

    from pyld import jsonld

    from tests.rocrate_check import CONTEXT_URL, context_1_1, seed_cache, validate

    keyring = Keyring(tmp_path / "keys")
    capsule = publish(done_job, store=tmp_path / "capsules", keyring=keyring)
    report = validate(capsule.path, seed_cache(tmp_path / "http-cache"))
    assert report["passed"], [(i["check"]["name"], i["message"]) for i in report["issues"]]
    assert report["statistics"]["total_checks"] >= 57 and "workflow-run-crate-0.5" in report["statistics"]["profiles"]

    def loader(url, options=None):
        assert url == CONTEXT_URL, url  # nothing else is fetched
        return {"contextUrl": None, "documentUrl": url, "document": context_1_1()}

    crate = json.loads((capsule.path / "ro-crate-metadata.json").read_text())
    expanded = {e["@id"]: e for e in jsonld.expand(crate, {"documentLoader": loader})}
    run = next(e for e in expanded.values() if "http://schema.org/CreateAction" in e.get("@type", []))
    assert run["@id"].endswith(f"#run-{done_job.id}")
    assert "https://w3id.org/ro/terms/workflow-run#environment" in run
    workflow = next(e for i, e in expanded.items() if i.endswith("notebook.ipynb"))
    assert "https://bioschemas.org/ComputationalWorkflow" in workflow["@type"]

    # Any byte of any file flipped: refused, naming the file.
    rng = random.Random(20261127)
    files = sorted(p for p in capsule.path.rglob("*") if p.is_file() and p.name != "capsule.sig")
    for index, original in enumerate(files):
        copy = tmp_path / f"flip-{index}"
        shutil.copytree(capsule.path, copy)
        target = copy / original.relative_to(capsule.path)
        target.chmod(0o644)
        data = bytearray(target.read_bytes())
        at = rng.randrange(len(data))
        data[at] ^= 1 << rng.randrange(8)
        target.write_bytes(bytes(data))
        with pytest.raises(CapsuleChanged, match=re.escape(original.relative_to(capsule.path).as_posix())):
            verify(copy, keyring=keyring)


def test_a_run_that_fails_mid_way_is_recorded_as_failed_never_as_a_success(demo_registry, area, job_env,
                                                                             job_accounts, tmp_path):
    import nbformat

    from jupyter_vlass.exceptions import InvalidArgument
    from jupyter_vlass.reproducibility.store import CapsuleStore

    nbformat.write(nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("inputs = {}", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("open('half.txt', 'w').write('written before the failure')"),
        nbformat.v4.new_code_cell("raise RuntimeError('half-way')")],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}),
        area / "fails.ipynb")
    site = LocalSite(python=str(JOB_ENV / "bin" / "python"), account=job_accounts[0])
    jobs = Jobs(demo_registry, sites={"local": site}, root=area, owner="alice", jobs_dir=area / "jobs")
    job = jobs.submit(manifest(area, notebook="fails.ipynb"))
    assert job.wait(timeout=120).state == "failed"
    store, keyring = CapsuleStore(tmp_path / "capsules"), Keyring(tmp_path / "keys")
    capsule = publish(job, store=store.folder, keyring=keyring)
    assert capsule.status == "failed" and verify(capsule.path, keyring=keyring)["verified"]
    shown = store.show(capsule.capsule_id)
    assert shown["status"] == "failed" and "half-way" in shown["error"], shown
    crate = json.loads((capsule.path / "ro-crate-metadata.json").read_text())
    [action] = [e for e in crate["@graph"] if e.get("@type") == "CreateAction"]
    assert action["actionStatus"] == {"@id": "http://schema.org/FailedActionStatus"} and "half-way" in action["error"]
    notebook = json.loads((capsule.path / "notebook.ipynb").read_text())
    assert "This run failed" in "".join(notebook["cells"][0]["source"])
    assert store.leaderboard() == []

    # The CLI says so and exits 1; a job that has not ended is refused, with nothing written.
    config = tmp_path / "jobs.json"
    config.write_text(json.dumps({"sites": {"local": {"kind": "local", "python": str(JOB_ENV / "bin" / "python")}},
                                  "jobs_dir": str(area / "jobs"), "account": job_accounts[0]}))
    done = subprocess.run([sys.executable, "-m", "jupyter_vlass.cli", "--db",
                           demo_registry.engine.url.render_as_string(hide_password=False), "publish", "fails.ipynb",
                           "--root", str(area), "--config", str(config), "--store", str(tmp_path / "cli-capsules"),
                           "--keys", str(tmp_path / "keys")], capture_output=True, text=True, timeout=240)
    assert done.returncode == 1 and "recorded as a failed run" in done.stderr and "half-way" in done.stderr, done.stderr
    assert [a["status"] for a in CapsuleStore(tmp_path / "cli-capsules").list()] == ["failed"]
    from tests.jobs.jobs_fixtures import slow_notebook

    queued = jobs.submit(manifest(area, notebook=slow_notebook(area), parameters={"seconds": 60}))
    queued.cancel().wait(timeout=60)
    with pytest.raises(InvalidArgument, match="is cancelled: only an ended job is published"):
        publish(queued, store=tmp_path / "never", keyring=keyring)
    assert not (tmp_path / "never").exists() or not any((tmp_path / "never").iterdir())


def test_a_fork_onto_the_next_version_of_a_tile_reports_the_known_difference(demo_registry, area, job_env,
                                                                              job_accounts, tmp_path):
    """The sample's full VLASS-like tile (synthetic pixels from real RACS components) exists as v1 and v2: the
    same sources, a new noise realisation. Forked from v1 onto v2, the diff must match at least 90 % of the
    sources, find fluxes that agree within their errors (at most 2 % beyond 3σ), and every pixel of the
    background and rms maps changed by far less than the ~120 µJy noise."""
    from jupyter_vlass.exceptions import Conflict
    from jupyter_vlass.reproducibility.diff import diff, figure
    from jupyter_vlass.reproducibility.replay import resubmit

    tile = "vlass:VLASS2.2.ql.T08t20.J135700-180000"
    site = LocalSite(python=str(JOB_ENV / "bin" / "python"), account=job_accounts[0])
    jobs = Jobs(demo_registry, sites={"local": site}, root=area, owner="alice", jobs_dir=area / "jobs")
    keyring, store = Keyring(tmp_path / "keys"), tmp_path / "capsules"
    job = jobs.submit(manifest(area, inputs=[demo_registry.get(tile, "v1")], parameters={"threshold": 6.0}))
    assert job.wait(timeout=280).state == "done", job.log()
    original = publish(job, store=store, keyring=keyring)

    with pytest.raises(Conflict, match="major version change: v1 -> v2"):  # reported before anything runs
        resubmit(original.path, jobs, keyring=keyring, datasets={tile: f"{tile}@v2"})
    forked, report = resubmit(original.path, jobs, keyring=keyring, datasets={tile: f"{tile}@v2"}, force=True)
    assert [f.level for f in report.findings] == ["breaking"]
    assert forked.wait(timeout=280).state == "done", forked.log()
    fork = publish(forked, store=store, keyring=keyring)

    result = diff(original.path, fork.path)
    catalogue = result.catalogues["catalogue.ecsv"]
    assert catalogue["matched"] >= 0.9 * min(catalogue["original"], catalogue["replay"]) > 20
    assert catalogue["changed"] <= 0.02 * catalogue["matched"]  # 3σ by chance: 0.3 % expected
    for name, image in result.images.items():  # a new noise realisation: every pixel, by far less than the noise
        assert image["changed_pixels"] == image["pixels"] and image["rms_difference"] < 0.1 * 120e-6, name
    assert {c["path"].rsplit(".", 1)[-1] for c in result.scalars["summary.json"]} <= {"median_rms", "sources"}
    drawn = figure(result, original.path, fork.path)  # the image panels show the difference replay - original
    assert sum(1 for a in drawn.axes if "pixels changed" in a.get_title()) == len(result.images) > 0
    print(result)


class ServiceInProcess:
    """The hub service's signing endpoints called in this process as ``user`` (what HubSigner and
    HubKeys send over HTTP under a hub; the real service is tested in tests/spawners)."""

    def __init__(self, keyring: Keyring, user: str, orcid: str | None = None):
        self.keyring, self.user, self.orcid = keyring, user, orcid  # orcid: what the hub's login recorded

    def request(self, method: str, path: str, body: dict | None = None) -> dict:
        from jupyter_vlass.reproducibility.signing import sign_statement

        if (method, path) == ("POST", "api/capsules/sign"):
            return sign_statement(self.keyring, statement=body["statement"], crate=body["crate"], user=self.user,
                                  orcid=self.orcid)
        assert (method, path) == ("GET", "api/keys")
        return {"keys": [k.to_json() for k in self.keyring.public_keys()]}


def test_the_hub_signs_a_capsule_only_for_its_author(done_job, tmp_path):
    from jupyter_vlass.exceptions import Forbidden, InvalidArgument
    from jupyter_vlass.reproducibility.signing import HubKeys, HubSigner, sign_statement

    site_keys = Keyring(tmp_path / "hub-keys")
    as_alice = ServiceInProcess(site_keys, "alice")  # the job's owner
    capsule = publish(done_job, store=tmp_path / "capsules", signer=HubSigner(as_alice))
    assert capsule.key_id == site_keys.current()
    assert verify(capsule.path, keyring=HubKeys(as_alice))["capsule_id"] == capsule.capsule_id
    assert third_party_verify(capsule.path, site_keys.public_key(capsule.key_id).pem, tmp_path).returncode == 0

    # Mallory cannot have alice's run signed as hers, nor a crate the statement does not sign.
    with pytest.raises(Forbidden, match="names alice, you are mallory"):
        publish(done_job, store=tmp_path / "other", signer=HubSigner(ServiceInProcess(site_keys, "mallory")))
    assert not any((tmp_path / "other").iterdir())  # nothing half-written
    from google.protobuf import json_format
    from model_signing._signing import signing

    from jupyter_vlass.reproducibility.signing import _hashing

    statement = json_format.MessageToJson(signing.Payload(_hashing().hash(capsule.path)).statement.pb)
    crate = (capsule.path / "ro-crate-metadata.json").read_text()
    forged = crate.replace('"name": "alice"', '"name": "mallory"')
    with pytest.raises(InvalidArgument, match="not the ro-crate-metadata.json the statement signs"):
        sign_statement(site_keys, statement=statement, crate=forged, user="mallory")
    with pytest.raises(InvalidArgument, match="statement"):
        sign_statement(site_keys, statement='{"predicateType": "x"}', crate=crate, user="alice")
    assert not list((tmp_path / "capsules").glob(".incoming-*"))


ORCID = "https://orcid.org/0000-0002-1825-0097"  # ORCID's own example iD (its check digit holds)


def test_a_capsule_names_its_author_by_the_orcid_the_login_gave(done_job, tmp_path, monkeypatch):
    """The spawner puts the login's ORCID iD in the server's environment; the capsule's crate names the author
    by it, DataCite and PROV carry it; the hub signs it only when its login recorded that iD for the author."""
    import json as _json

    from datacite import schema45

    from jupyter_vlass.exceptions import Forbidden
    from jupyter_vlass.reproducibility.provenance import export
    from jupyter_vlass.reproducibility.signing import HubSigner
    from jupyter_vlass.reproducibility.store import CapsuleStore

    site_keys = Keyring(tmp_path / "hub-keys")
    monkeypatch.setenv("JUPYTER_VLASS_ORCID", ORCID)
    with pytest.raises(Forbidden, match="ORCID iD https://orcid.org/0000-0002-1825-0097, which is not the one"):
        publish(done_job, store=tmp_path / "refused", signer=HubSigner(ServiceInProcess(site_keys, "alice")))
    with pytest.raises(Forbidden, match="not the one your login gave"):  # another user's iD
        publish(done_job, store=tmp_path / "refused", signer=HubSigner(
            ServiceInProcess(site_keys, "alice", "https://orcid.org/0000-0001-5109-3700")))
    store = CapsuleStore(tmp_path / "capsules")
    capsule = publish(done_job, store=store, signer=HubSigner(ServiceInProcess(site_keys, "alice", ORCID)))
    crate = _json.loads((capsule.path / "ro-crate-metadata.json").read_text())
    [agent] = [e for e in crate["@graph"] if e["@id"] == "#agent"]
    assert agent == {"@id": "#agent", "@type": "Person", "name": "alice", "identifier": ORCID}
    assert store.show(capsule.capsule_id)["orcid"] == ORCID
    [record] = _json.loads(export(store, [capsule.capsule_id], "datacite"))
    assert schema45.validate(record), list(schema45.validator.iter_errors(record))
    assert record["creators"][0]["nameIdentifiers"] == [{"nameIdentifier": ORCID, "nameIdentifierScheme": "ORCID",
                                                         "schemeUri": "https://orcid.org"}]
    chain = _json.loads(export(store, [capsule.capsule_id], "prov-json"))
    assert chain["agent"]["user:alice"]["vlass:orcid"] == ORCID
    monkeypatch.setenv("JUPYTER_VLASS_ORCID", "0000-0002-1825-0098")  # a wrong check digit: named by none
    assert "identifier" not in next(e for e in _json.loads(
        (publish(done_job, store=tmp_path / "plain", keyring=site_keys).path / "ro-crate-metadata.json").read_text()
    )["@graph"] if e["@id"] == "#agent")


@pytest.mark.parametrize("text, url", [
    ("0000-0002-1825-0097", ORCID), (ORCID, ORCID), (" 0000-0002-1694-233X ", "https://orcid.org/0000-0002-1694-233X"),
    ("0000-0002-1825-0098", None), ("http://orcid.org/0000-0002-1825-0097", None), ("0000-0002-1825-009", None),
    ("javascript:alert(1)", None), (None, None), (12, None)])
def test_orcid_ids_are_checked_by_their_check_digit(text, url):
    from jupyter_vlass.patterns import orcid_url

    assert orcid_url(text) == url


def test_a_sync_that_brings_a_new_dataset_version_names_the_analyses_it_affects(registry, sample_data, area,
                                                                                 job_env, job_accounts, tmp_path):
    """The trigger of a new release: an object store's manifest moves the FIRST image to a new version; the
    CLI's ``sources sync`` lists the published analyses pinned to the old one and the kind of change."""
    tacc = tmp_path / "tacc"
    shutil.copytree(sample_data["manifest"].parent, tacc)
    registry.add_source("tacc", "posix", str(tacc / "manifest.json"))
    assert [r.status for r in registry.sync()] == ["ok"]
    site = LocalSite(python=str(JOB_ENV / "bin" / "python"), account=job_accounts[0])
    jobs = Jobs(registry, sites={"local": site}, root=area, owner="alice", jobs_dir=area / "jobs")
    job = jobs.submit(manifest(area, inputs=[registry.get(FIRST)], parameters={"threshold": 4.0}))
    assert job.wait(timeout=180).state == "done", job.log()
    capsule = publish(job, store=tmp_path / "capsules", keyring=Keyring(tmp_path / "keys"))

    listing = json.loads((tacc / "manifest.json").read_text())
    for entry in listing["objects"]:
        entry["version"] = "2027.1" if entry["key"].startswith("first/") else entry["version"]
    (tacc / "manifest.json").write_text(json.dumps(listing))
    env = {**os.environ, "JUPYTER_VLASS_CAPSULES": str(tmp_path / "capsules")}
    db = registry.engine.url.render_as_string(hide_password=False)
    synced = subprocess.run([sys.executable, "-m", "jupyter_vlass.cli", "--db", db, "sources", "sync", "tacc"],
                            capture_output=True, text=True, env=env, timeout=120)
    assert synced.returncode == 0, synced.stderr
    pinned = registry.get(FIRST, "2026.1").version
    assert (f"affects published analysis {capsule.capsule_id[:16]}" in synced.stdout
            and f"pinned to {pinned}, now 2027.1 (major)" in synced.stdout), synced.stdout
    again = subprocess.run([sys.executable, "-m", "jupyter_vlass.cli", "--db", db, "sources", "sync", "tacc",
                            "--json"], capture_output=True, text=True, env=env, timeout=120)
    assert json.loads(again.stdout)[0]["affected_analyses"] == []  # nothing new the second time


def test_a_run_on_the_local_slurm_records_its_accounting_and_replays_on_slurm(slurm, job_env, demo_registry,
                                                                               area, job_accounts, tmp_path):
    from jupyter_vlass.compute.profiles import load_profiles
    from jupyter_vlass.jobs.sites import SlurmJobSite
    from jupyter_vlass.reproducibility.replay import resubmit
    from jupyter_vlass.reproducibility.store import CapsuleStore
    from tests.services import REPO

    sites = {"slurm": SlurmJobSite(environment=str(JOB_ENV), account=job_accounts[0], poll_interval=1.0)}
    jobs = Jobs(demo_registry, sites=sites, root=area, owner="alice", jobs_dir=area / "jobs",
                profiles=load_profiles(REPO / "hub_config" / "profiles.yaml"))
    job = jobs.submit(manifest(area, site="slurm", profile="tacc-a100", inputs=[demo_registry.get(FIRST)],
                               resources={"gpus": "1", "walltime": "1h", "memory": "2G"},
                               parameters={"threshold": 4.5}))
    assert job.wait(timeout=240).state == "done", job.log()
    keyring, store = Keyring(tmp_path / "keys"), CapsuleStore(tmp_path / "capsules")
    original = publish(job, store=store.folder, keyring=keyring)
    crate = json.loads((original.path / "ro-crate-metadata.json").read_text())
    env = {e["name"]: e["value"] for e in crate["@graph"] if e["@id"].startswith("#env-")}
    assert env["site_kind"] == "slurm" and env["slurm_job_id"] == job.status()["site_job_id"]
    assert env["gpu_type"] == "a100" and env["slurm_partition"] == "gpu-a100" and env["slurm_state"] == "COMPLETED"
    assert env["container_image"] == "none: the site's own environment"
    assert "gres/gpu=1" in env["slurm_alloc_tres"] and int(env["slurm_elapsed_s"]) >= 0, env

    replay, report = resubmit(original.path, jobs, keyring=keyring)  # Slurm to Slurm
    assert not report.breaking and replay.status()["site"] == "slurm"
    assert replay.wait(timeout=240).state == "done", replay.log()
    again = publish(replay, store=store.folder, keyring=keyring)
    [top] = store.leaderboard()
    assert (top["id"], top["replays"]) == (original.capsule_id, 1) and again.capsule_id != original.capsule_id


def test_the_capsule_names_every_dataset_the_notebook_opened(sample_data, area, job_env, job_accounts, tmp_path):
    """Nothing typed by the author: a dataset the notebook reads through a Registry, beside its pinned input,
    is in the crate, the citation cell and the store's view of the capsule."""
    import nbformat

    from jupyter_vlass.federation import Registry
    from jupyter_vlass.reproducibility.store import CapsuleStore

    racs = "tacc:racs/SB38959.RACS_1357-18.comp.fits"
    shutil.copytree(sample_data["manifest"].parent, area / "tacc")
    registry = Registry(f"sqlite:///{area / 'registry.sqlite'}")
    registry.add_source("tacc", "posix", str(area / "tacc" / "manifest.json"))
    assert [r.status for r in registry.sync()] == ["ok"]
    subprocess.run(["chmod", "-R", "a+rX", str(area)], check=True)  # the job's account reads the registry
    nbformat.write(nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("db = ''\ninputs = {}", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(
            "from jupyter_vlass.federation import Registry\n"
            f"registry = Registry(db)\nrecord = registry.get({racs!r})\n"
            "with registry.open(record) as fh:\n    open('header.txt', 'wb').write(fh.read(80))")],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}),
        area / "opens.ipynb")
    site = LocalSite(python=str(JOB_ENV / "bin" / "python"), account=job_accounts[0])
    jobs = Jobs(registry, sites={"local": site}, root=area, owner="alice", jobs_dir=area / "jobs")
    job = jobs.submit(manifest(area, notebook="opens.ipynb", inputs=[registry.get(FIRST)],
                               parameters={"db": f"sqlite:///{area / 'registry.sqlite'}"}))
    assert job.wait(timeout=180).state == "done", job.log()
    assert job.result()["header.txt"].read_bytes().startswith(b"SIMPLE")
    store = CapsuleStore(tmp_path / "capsules")
    capsule = publish(job, store=store.folder, keyring=Keyring(tmp_path / "keys"))

    crate = json.loads((capsule.path / "ro-crate-metadata.json").read_text())
    datasets = {e["name"]: e for e in crate["@graph"] if e.get("@type") == "Dataset" and e["@id"] != "./"}
    assert set(datasets) == {FIRST, racs}
    assert datasets[racs]["description"].startswith("opened") and datasets[FIRST]["description"].endswith("input of the job")
    assert datasets[racs]["sha256"] == registry.get(racs).sha256
    [action] = [e for e in crate["@graph"] if e.get("@type") == "CreateAction"]
    assert {"@id": datasets[racs]["@id"]} in action["object"]
    citation = "".join(json.loads((capsule.path / "notebook.ipynb").read_text())["cells"][0]["source"])
    assert f"`{racs}`" in citation and "(opened by the notebook)" in citation
    assert [o["id"] for o in store.show(capsule.capsule_id)["opened"]] == [racs]
    assert [a["id"] for a in store.affected_by(racs, "2027.1")] == [capsule.capsule_id]


def test_capsules_in_an_s3_bucket_are_complete_or_absent_and_never_overwritten(done_job, seaweedfs, tmp_path):
    """The deployment's artifact store, on SeaweedFS: the signature is written last, so a capsule whose upload
    stopped is not listed; publishing the same run again writes nothing; readers verify a local copy."""
    from jupyter_vlass.reproducibility.store import CapsuleStore, UnknownAnalysis

    fs = seaweedfs.fs()
    if not fs.exists("capsules-test"):
        fs.mkdir("capsules-test")
    options = {"key": "any", "secret": "any", "client_kwargs": {"endpoint_url": seaweedfs.endpoint}}
    store = CapsuleStore("s3://capsules-test/published", storage_options=options, cache=tmp_path / "cache")
    keyring = Keyring(tmp_path / "keys")
    capsule = publish(done_job, store=store, keyring=keyring)
    assert capsule.new and capsule.path.is_relative_to(tmp_path / "cache")
    prefix = f"capsules-test/published/{capsule.capsule_id}"
    stored = {p.removeprefix(prefix + "/") for p in fs.find(prefix)}
    assert stored == {p.relative_to(capsule.path).as_posix() for p in capsule.path.rglob("*") if p.is_file()}
    signature = fs.info(f"{prefix}/capsule.sig")["ETag"]

    again = publish(done_job, store=store, keyring=keyring)
    assert (again.capsule_id, again.new) == (capsule.capsule_id, False)
    assert fs.info(f"{prefix}/capsule.sig")["ETag"] == signature  # a new signature would differ: not rewritten
    assert verify(store.path(capsule.capsule_id), keyring=keyring)["capsule_id"] == capsule.capsule_id
    assert [a["id"] for a in store.list()] == [capsule.capsule_id] and store.datacite(capsule.capsule_id)["name"]

    # An upload that stopped before its signature: not a capsule, for the store and its readers.
    half = "f" * 64
    fs.pipe_file(f"capsules-test/published/{half}/ro-crate-metadata.json", b"{}")
    assert [a["id"] for a in store.list()] == [capsule.capsule_id]
    with pytest.raises(UnknownAnalysis):
        store.path(half)

    # The CLI finds the bucket through the environment.
    env = {**os.environ, "JUPYTER_VLASS_CAPSULES": "s3://capsules-test/published", "AWS_ACCESS_KEY_ID": "any",
           "AWS_SECRET_ACCESS_KEY": "any", "JUPYTER_VLASS_CAPSULES_ENDPOINT": seaweedfs.endpoint,
           "XDG_DATA_HOME": str(tmp_path / "data")}
    listed = subprocess.run([sys.executable, "-m", "jupyter_vlass.cli", "analyses", "list", "--json"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert [a["id"] for a in json.loads(listed.stdout)] == [capsule.capsule_id], listed.stderr
    checked = subprocess.run([sys.executable, "-m", "jupyter_vlass.cli", "verify", capsule.capsule_id, "--keys",
                              str(tmp_path / "keys")], env=env, capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0 and "verified" in checked.stdout, checked.stderr


def test_the_crate_names_the_container_image_a_profile_pinned():
    """A Slurm profile's image (its SHA-256 is checked by the batch script before the job runs) is named in
    the run's environment; a run outside any image says so."""
    from jupyter_vlass.reproducibility.crate import build

    run = {"title": "t", "owner": "alice", "site": "slurm", "site_kind": "slurm", "site_job_id": "7", "started": None,
           "ended": None, "parameters": {}, "inputs": [], "outputs": [], "job_id": "j1", "result_key": "k",
           "image": {"name": "astro", "runtime": "charliecloud", "sha256": "a" * 64}}
    environment = {e["name"]: e["value"] for e in build(run)["@graph"] if e["@id"].startswith("#env-")}
    assert environment["container_image"] == f"astro (charliecloud) sha256:{'a' * 64}"
    environment = {e["name"]: e["value"] for e in build({**run, "image": None})["@graph"] if e["@id"].startswith("#env-")}
    assert environment["container_image"].startswith("none")


def test_the_gate_judges_what_the_run_is_read_the_same_from_its_crate(done_job):
    """A detection analysis is one that pins or chooses a model or writes a detection table; all its inputs are
    gated, the ones the notebook opened itself too. The hub service reads the same answer from the crate."""
    from jupyter_vlass.reproducibility.capsule import gated_inputs, run_record
    from jupyter_vlass.reproducibility.crate import build, gated_inputs_of_crate

    run = run_record(done_job)
    pinned = [(i["id"], i["version"]) for i in run["inputs"]]
    opened = {"id": "tacc:racs/SB38959.RACS_1357-18.comp.fits", "version": "1", "uri": "file:///racs.fits",
              "sha256": "0" * 64, "how": "opened"}
    cases = [
        (run, []),  # an RMS catalogue: no model, no detection table
        ({**run, "parameters": {**run["parameters"], "model": "cnn"}}, pinned),
        ({**run, "model": {"name": "cnn", "version": "0.2.0"}, "inputs": [*run["inputs"], opened]},
         sorted([*pinned, (opened["id"], opened["version"])])),
        ({**run, "outputs": [*run["outputs"], {**run["outputs"][0], "name": "sub/detections.ecsv"}]}, pinned),
        ({**run, "parameters": {"model": "cnn"}, "error": "the kernel died"}, []),  # a failed run is a record
    ]
    for case, expected in cases:
        assert gated_inputs(case) == sorted(expected), case["parameters"]
        assert gated_inputs_of_crate(json.loads(json.dumps(build(case)))) == sorted(expected)
