"""The provenance chain of real published runs as W3C PROV: valid PROV-JSON (the schema in the ``prov`` wheel),
read back the same from JSON, XML and RDF; the dataset versions read, the run's site, the person, a fork linked
to its parent, a retraction invalidating what it marks."""

from __future__ import annotations

import json
from urllib.parse import quote
from pathlib import Path

import jsonschema
import prov
import pytest
from prov.model import ProvDocument

from jupyter_vlass.exceptions import InvalidArgument
from jupyter_vlass.reproducibility.capsule import publish
from jupyter_vlass.reproducibility.keys import Keyring
from jupyter_vlass.reproducibility.provenance import FORMATS, document, export, select, serialize
from jupyter_vlass.reproducibility.store import CapsuleStore
from jupyter_vlass.review.review import Review
from jupyter_vlass.store import make_engine, session_factory
from tests.reproducibility.test_capsules import done_job  # noqa: F401  (a fixture)

SCHEMA = Path(prov.__file__).parent / "tests" / "schemas" / "prov-json.schema.json"


def test_a_capsules_chain_as_prov_in_every_format(done_job, tmp_path):
    store = CapsuleStore(tmp_path / "store")
    capsule = publish(done_job, store=store, keyring=Keyring(tmp_path / "keys"))
    analysis = store.show(capsule.capsule_id)
    review = Review(session_factory(make_engine(f"sqlite:///{tmp_path / 'review.sqlite'}")))
    review.mark(subject=f"capsule:{capsule.capsule_id}", mark="Retracted", explanation="RFI in the field", by="carol")
    doc = document(store, [capsule.capsule_id], marks=review.marks)

    canonical = json.loads(serialize(doc, "prov-json"))
    jsonschema.validate(canonical, json.loads(SCHEMA.read_text()))
    for fmt, kind in (("prov-json", "json"), ("prov-xml", "xml")):
        assert ProvDocument.deserialize(content=serialize(doc, fmt), format=kind) == doc, fmt
    assert ProvDocument.deserialize(content=serialize(doc, "prov-o"), format="rdf", rdf_format="turtle") == doc
    assert "wasInvalidatedBy(capsule:" in serialize(doc, "prov-n")

    # What the graph says, read from the PROV-JSON against the capsule's own record.
    [run] = [a for a in canonical["activity"].values() if a.get("voprov:type") == "Analysis"]
    assert run["vlass:site"] == analysis["site"] and run["voprov:type"] == "Analysis"
    used = {u["prov:entity"] for u in canonical["used"].values()}
    pins = {(p["id"], p["version"], p["sha256"]) for p in analysis["inputs"] + analysis["opened"]}
    datasets = {(e["prov:label"], e["vlass:version"], e["vlass:sha256"]) for k, e in canonical["entity"].items()
                if k in used}
    assert pins and datasets == pins
    outputs = {e["vlass:sha256"] for e in canonical["entity"].values() if "vlass:sha256" in e} - {p[2] for p in pins}
    assert outputs == {o["sha256"] for o in analysis["outputs"]}
    people = {a["prov:label"] for a in canonical["agent"].values() if a["prov:type"]["$"] == "prov:Person"}
    assert people == {analysis["owner"], "carol"}  # the author and the expert who retracted it
    [invalidation] = canonical["wasInvalidatedBy"].values()
    assert invalidation["prov:entity"] == f"capsule:{capsule.capsule_id}"
    with pytest.raises(InvalidArgument):
        serialize(doc, "prov-yaml")
    with pytest.raises(InvalidArgument):
        document(store, [])
    assert set(FORMATS) == {"prov-json", "prov-o", "prov-jsonld", "prov-n", "prov-xml", "datacite", "crate", "summary"}


def test_datacite_records_validate_and_say_what_was_derived_and_withdrawn(done_job, tmp_path):
    """Each capsule's record passes the ``datacite`` package's 4.5 schema and makes its XML; it names the
    dataset versions read (IsDerivedFrom) and, once retracted, IsObsoletedBy with a Withdrawn date."""
    from datacite import schema45
    from lxml import etree

    store = CapsuleStore(tmp_path / "store")
    capsule = publish(done_job, store=store, keyring=Keyring(tmp_path / "keys"))
    analysis = store.show(capsule.capsule_id)
    review = Review(session_factory(make_engine(f"sqlite:///{tmp_path / 'review.sqlite'}")))
    [fresh] = json.loads(export(store, [capsule.capsule_id], "datacite", marks=review.marks))
    assert schema45.validate(fresh), list(schema45.validator.iter_errors(fresh))
    assert {d["dateType"] for d in fresh["dates"]} == {"Issued"}
    review.mark(subject=f"capsule:{capsule.capsule_id}", mark="Retracted", explanation="RFI in the field", by="carol")
    [withdrawn] = json.loads(export(store, [capsule.capsule_id], "datacite", marks=review.marks))
    assert schema45.validate(withdrawn), list(schema45.validator.iter_errors(withdrawn))
    etree.fromstring(schema45.tostring(withdrawn).encode())  # well-formed DataCite XML
    relations = {(r["relatedIdentifier"], r["relationType"]) for r in withdrawn["relatedIdentifiers"]}
    for pin in analysis["inputs"] + analysis["opened"]:
        assert (f"urn:jupyter-vlass:dataset:{pin['id']}@{pin['version']}", "IsDerivedFrom") in relations
    assert any(kind == "IsObsoletedBy" for _, kind in relations)
    [gone] = [d for d in withdrawn["dates"] if d["dateType"] == "Withdrawn"]
    assert "carol" in gone["dateInformation"] and "RFI" in gone["dateInformation"]
    assert withdrawn["creators"] == [{"name": analysis["owner"], "nameType": "Personal"}]


def test_the_command_exports_a_capsule_folder_whole_or_says_why(done_job, tmp_path):
    import os
    import subprocess
    import sys

    store = CapsuleStore(tmp_path / "store")
    capsule = publish(done_job, store=store, keyring=Keyring(tmp_path / "keys"))
    exe = str(Path(sys.executable).parent / "jupyter-vlass")
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data")}
    target = tmp_path / "chain.provn"
    done = subprocess.run([exe, "provenance", "export", str(capsule.path), "--format", "prov-n", "-o", str(target)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    text = target.read_text()
    assert text.startswith("document") and f"capsule:{capsule.capsule_id}" in text and "used(run:" in text
    refused = subprocess.run([exe, "provenance", "export", "f" * 64, "--store", str(tmp_path / "store"),
                              "-o", str(tmp_path / "none.json")], capture_output=True, text=True, env=env, timeout=120)
    assert refused.returncode == 2 and "no published analysis" in refused.stderr, refused.stderr
    assert not (tmp_path / "none.json").exists() and not list(tmp_path.glob(".none.json*"))
    # An institute's report: no capsule named, the store's analyses chosen by date and author, or by award.
    report = subprocess.run([exe, "provenance", "export", "--store", str(tmp_path / "store"), "--since", "2000-01-01",
                             "--author", store.show(capsule.capsule_id)["owner"]],
                            capture_output=True, text=True, env=env, timeout=120)
    assert report.returncode == 0 and f"capsule:{capsule.capsule_id}" in report.stdout, report.stderr
    for argv, message in ((["--award", "AST-9"], "matches the report"), ([], "give capsules, or a report"),
                          (["--since", "soon"], "since: a date")):
        refused = subprocess.run([exe, "provenance", "export", "--store", str(tmp_path / "store"), *argv],
                                 capture_output=True, text=True, env=env, timeout=120)
        assert refused.returncode == 2 and message in refused.stderr, (argv, refused.stderr)


NSF = {"funder": "U.S. National Science Foundation", "funder_id": "https://ror.org/021nxhr62", "award": "AST-2434562",
       "title": "CosmicAI"}


def test_the_grant_of_a_run_is_in_its_crate_datacite_and_prov(done_job, tmp_path):
    """A manifest's funding reaches the capsule's crate (funder by ROR id, a Grant with the award number), the
    store's summary, DataCite's fundingReferences (valid 4.5) and PROV (the author acted on behalf of the funder)."""
    from datacite import schema45

    doc = done_job.jobs.row(done_job.id).manifest
    funded = done_job.jobs.submit({**doc, "funding": [NSF], "recompute": True})
    assert funded.wait(timeout=180).state == "done"
    store = CapsuleStore(tmp_path / "store")
    capsule = publish(funded, store=store, keyring=Keyring(tmp_path / "keys"))
    crate = json.loads((capsule.path / "ro-crate-metadata.json").read_text())
    entities = {e["@id"]: e for e in crate["@graph"]}
    assert entities["./"]["funder"] == [{"@id": NSF["funder_id"]}] and entities["./"]["funding"] == [{"@id": "#grant-0"}]
    assert entities[NSF["funder_id"]] == {"@id": NSF["funder_id"], "@type": "Organization", "name": NSF["funder"]}
    assert entities["#grant-0"]["identifier"] == "AST-2434562" and entities["#grant-0"]["funder"] == {"@id": NSF["funder_id"]}
    assert store.show(capsule.capsule_id)["funding"] == [NSF]
    [record] = json.loads(export(store, [capsule.capsule_id], "datacite"))
    assert schema45.validate(record), list(schema45.validator.iter_errors(record))
    assert record["fundingReferences"] == [{"funderName": NSF["funder"], "awardNumber": "AST-2434562",
                                            "funderIdentifier": NSF["funder_id"], "funderIdentifierType": "ROR",
                                            "awardTitle": "CosmicAI"}]
    chain = json.loads(export(store, [capsule.capsule_id], "prov-json"))
    jsonschema.validate(chain, json.loads(SCHEMA.read_text()))
    [delegation] = chain["actedOnBehalfOf"].values()
    assert delegation["prov:responsible"] == "ror:021nxhr62" and delegation["vlass:award"] == "AST-2434562"
    assert chain["agent"]["ror:021nxhr62"]["prov:type"]["$"] == "prov:Organization"
    with pytest.raises(Exception, match="funding"):  # a ROR id that is not one, refused with the manifest
        done_job.jobs.submit({**doc, "funding": [{**NSF, "funder_id": "https://evil.example/x"}]})


def _summary(capsule_id, owner, published, *, parent=None, inputs=(("vlass:T1", "v1"),), award=None):
    return {"id": capsule_id, "owner": owner, "published": published, "parent": parent, "opened": [],
            "inputs": [{"id": i, "version": v} for i, v in inputs],
            "funding": [{"funder": "NSF", "award": award}] if award else []}


def test_a_report_selects_by_dataset_with_what_derives_from_it_dates_authors_and_award():
    hub = [_summary("a", "alice", "2026-11-02T10:00:00Z", award="AST-1"),
           _summary("b", "bob", "2026-11-20T10:00:00Z", parent="a", inputs=(("vlass:T1", "v2"),)),  # a fork onto v2
           _summary("c", "carol", "2026-12-01T10:00:00Z", parent="b", inputs=(("other:X", "1"),)),  # derived again
           _summary("d", "dave", "2026-12-02T10:00:00Z", inputs=(("other:X", "1"),), award="AST-2")]
    assert select(hub, dataset="vlass:T1@v1") == ["a", "b", "c"]  # the version's readers and their descendants
    assert select(hub, dataset="vlass:T1") == ["a", "b", "c"] and select(hub, dataset="other:X") == ["c", "d"]
    assert select(hub, since="2026-11-20", until="2026-12-01") == ["b", "c"]  # both days included
    assert select(hub, authors=["alice", "dave"]) == ["a", "d"] and select(hub, award="AST-2") == ["d"]
    assert select(hub, dataset="vlass:T1@v1", award="AST-1") == ["a"] and select(hub, award="AST-9") == []
    for bad in ("2026-13-01", "yesterday", "2026-1-1"):
        with pytest.raises(InvalidArgument, match="since: a date"):
            select(hub, since=bad)


def test_a_grant_added_after_publishing_is_audited_and_checked(tmp_path):
    review = Review(session_factory(make_engine(f"sqlite:///{tmp_path / 'review.sqlite'}")))
    entry = review.add_funding(capsule_id="a" * 64, grant=NSF, by="alice")
    assert (entry["actor"], entry["action"], entry["subject"]) == ("alice", "funding", "capsule:" + "a" * 64)
    review.add_funding(capsule_id="a" * 64, grant={"funder": "DOE", "award": "DE-SC0001"}, by="alice")
    assert review.funding_index() == {"a" * 64: [NSF, {"funder": "DOE", "award": "DE-SC0001"}]}
    for bad in ({"funder": "NSF"}, {**NSF, "funder_id": "https://ror.org/x"}, {**NSF, "award": "$(id)"}, [], "NSF"):
        with pytest.raises(InvalidArgument, match="grant"):
            review.add_funding(capsule_id="a" * 64, grant=bad, by="alice")
    assert len(review.funding_index()["a" * 64]) == 2 and review.audit_verify()["entries"] == 2  # nothing half-written


def test_the_chain_as_a_provenance_run_crate_passes_the_validator(done_job, tmp_path):
    """A capsule and its replay (a chain of two steps) as one Provenance Run Crate 0.5, zipped with the chain's
    PROV-JSON as its main workflow file: roc-validator passes it offline; each step's run reads what it pinned."""
    import io
    import zipfile

    from jupyter_vlass.reproducibility.replay import resubmit
    from tests.rocrate_check import seed_cache, validate

    keyring = Keyring(tmp_path / "keys")
    store = CapsuleStore(tmp_path / "store")
    original = publish(done_job, store=store, keyring=keyring)
    replay, _ = resubmit(original.path, done_job.jobs, keyring=keyring)
    assert replay.wait(timeout=180).state == "done"
    child = publish(replay, store=store, keyring=keyring)
    folder = tmp_path / "crate"
    zipfile.ZipFile(io.BytesIO(export(store, [child.capsule_id], "crate"))).extractall(folder)
    assert sorted(p.name for p in folder.iterdir()) == ["chain.prov.json", "ro-crate-metadata.json"]
    jsonschema.validate(json.loads((folder / "chain.prov.json").read_text()), json.loads(SCHEMA.read_text()))
    report = validate(folder, seed_cache(tmp_path / "cache"), profile="provenance-run-crate-0.5")
    assert report["passed"], json.dumps([i["message"] for i in report["issues"]], indent=1)[:3000]
    crate = json.loads((folder / "ro-crate-metadata.json").read_text())
    entities = {e["@id"]: e for e in crate["@graph"]}
    steps = [entities[s["@id"]] for s in entities[entities["./"]["mainEntity"]["@id"]]["step"]]
    assert [s["workExample"]["@id"] for s in steps] == \
        [f"urn:jupyter-vlass:capsule:{original.capsule_id}", f"urn:jupyter-vlass:capsule:{child.capsule_id}"]
    runs = [e for e in crate["@graph"] if e["@type"] == "CreateAction" and e["@id"].startswith("#run-")]
    read = {entities[o["@id"]]["name"] + "@" + entities[o["@id"]]["version"] for run in runs for o in run["object"]}
    assert len(runs) == 2 and read == {f"{p['id']}@{p['version']}" for p in store.show(original.capsule_id)["inputs"]}


CURATED = "curated:racs-1357-18-components"  # 1.1.0 derives from a VLASS tile in the sample; 1.0.0 came before
ICRAR = {"name": "International Centre for Radio Astronomy Research", "ror": "https://ror.org/047272k79"}


class ReadingOtherVersions:
    """A capsule store showing its capsules as if they had read ``pins`` (the crate, run and outputs are the real
    capsule's): the registry's lineage of a derived version is followed from what a capsule says it read."""

    def __init__(self, store: CapsuleStore, pins: list[dict]):
        self._store, self._pins = store, pins

    def show(self, capsule_id):
        return {**self._store.show(capsule_id), "inputs": self._pins, "opened": []}

    def path(self, capsule_id):
        return self._store.path(capsule_id)

    def lineage(self, capsule_id):
        return self._store.lineage(capsule_id)


def test_derived_dataset_versions_trace_to_their_origins_in_prov_and_datacite(done_job, demo_registry, tmp_path):
    """A capsule that read a derived version: PROV says that version wasDerivedFrom the VLASS tile (a graph walk
    from every derived dataset reaches a version that derives from nothing); DataCite has a valid record of the
    derived version (IsDerivedFrom the tile, IsNewVersionOf 1.0.0) that a retraction of it obsoletes; the author's
    affiliation reaches the crate and DataCite by its ROR id."""
    from datacite import schema45

    from jupyter_vlass.reproducibility.chain import Origins

    doc = done_job.jobs.row(done_job.id).manifest
    affiliated = done_job.jobs.submit({**doc, "affiliations": [ICRAR, {"name": "CosmicAI"}], "recompute": True})
    assert affiliated.wait(timeout=180).state == "done"
    store = CapsuleStore(tmp_path / "store")
    capsule = publish(affiliated, store=store, keyring=Keyring(tmp_path / "keys"))
    crate = {e["@id"]: e for e in json.loads((capsule.path / "ro-crate-metadata.json").read_text())["@graph"]}
    assert crate["#agent"]["affiliation"] == [{"@id": ICRAR["ror"]}, {"@id": "#affiliation-1"}]
    assert crate[ICRAR["ror"]] == {"@id": ICRAR["ror"], "@type": "Organization", "name": ICRAR["name"]}

    derived = demo_registry.get(CURATED, "1.1.0")
    tile = derived.derived_from[0]  # the VLASS tile's uri@version, as the package names it
    reading = ReadingOtherVersions(store, [{"id": CURATED, "version": "1.1.0", "sha256": derived.sha256}])
    review = Review(session_factory(make_engine(f"sqlite:///{tmp_path / 'review.sqlite'}")))
    chain = json.loads(export(reading, [capsule.capsule_id], "prov-json", origins=Origins(demo_registry)))
    jsonschema.validate(chain, json.loads(SCHEMA.read_text()))
    parents = {}
    for relation in chain["wasDerivedFrom"].values():
        parents.setdefault(relation["prov:generatedEntity"], []).append(relation["prov:usedEntity"])
    derived_entity = f"dataset:{quote(CURATED + '@1.1.0', safe='-._~')}"
    [origin] = parents[derived_entity]
    assert chain["entity"][origin]["prov:label"].startswith("vlass:VLASS2.2.ql.T08t20")
    assert chain["entity"][origin]["vlass:sha256"] == demo_registry.get(chain["entity"][origin]["prov:label"], "v1").sha256
    for entity in (e for e in chain["entity"] if e.startswith("dataset:")):  # each derived one reaches a root
        seen = entity
        while seen in parents:
            seen = parents[seen][0]
        assert seen in chain["entity"] and seen not in parents
    assert tile.endswith("@v1")

    review.mark(subject=f"{CURATED}@1.1.0", mark="Retracted", explanation="flux scale off by 8%", by="carol")
    records = json.loads(export(reading, [capsule.capsule_id], "datacite", marks=review.marks,
                                origins=Origins(demo_registry)))
    for record in records:
        assert schema45.validate(record), list(schema45.validator.iter_errors(record))
    analysis, dataset = records
    assert analysis["creators"][0]["affiliation"] == [
        {"name": ICRAR["name"], "affiliationIdentifier": ICRAR["ror"], "affiliationIdentifierScheme": "ROR",
         "schemeUri": "https://ror.org"}, {"name": "CosmicAI"}]
    relations = {(r["relatedIdentifier"], r["relationType"]) for r in dataset["relatedIdentifiers"]}
    assert (f"urn:jupyter-vlass:dataset:{chain['entity'][origin]['prov:label']}@v1", "IsDerivedFrom") in relations
    assert (f"urn:jupyter-vlass:dataset:{CURATED}@1.0.0", "IsNewVersionOf") in relations
    assert any(kind == "IsObsoletedBy" for _, kind in relations) and dataset["version"] == "1.1.0"
    assert [d["dateType"] for d in dataset["dates"] if d["dateType"] == "Withdrawn"] == ["Withdrawn"]
    # Without the registry (a capsule folder exported alone) the capsule's record stands alone.
    assert len(json.loads(export(reading, [capsule.capsule_id], "datacite"))) == 1


def test_a_fork_by_its_own_author_is_the_analysis_next_version_in_datacite():
    from jupyter_vlass.reproducibility.datacite import record

    base = {**_summary("a" * 64, "alice", "2026-11-02T10:00:00Z"), "title": "t", "site": "local", "status": "completed",
            "parameters": {"threshold": 5}, "ended": None}
    own = {**base, "id": "b" * 64, "parent": "a" * 64, "parameters": {"threshold": 4}}
    other = {**own, "id": "c" * 64, "owner": "bob"}
    replay = {**base, "id": "d" * 64, "parent": "a" * 64, "owner": "bob"}
    kinds = {r["id"]: [x["relationType"] for x in record(r, parent=base)["relatedIdentifiers"] if "capsule:" in x["relatedIdentifier"]]
             for r in (own, other, replay)}
    assert kinds == {own["id"]: ["IsNewVersionOf"], other["id"]: ["IsDerivedFrom"], replay["id"]: ["IsVariantFormOf"]}


def test_the_report_for_people_counts_charges_and_cites(demo_registry):
    """The summary of a chain: analyses, independent replays, forks, retractions (and what derives from them),
    SUs per site as each capsule recorded them, grants, and a citation of every analysis and dataset version,
    the derived version's origin too; a title's markup is shown as text."""
    from jupyter_vlass.reproducibility.chain import Origins
    from jupyter_vlass.reproducibility.report import summary

    def analysis(capsule_id, owner, *, parent=None, parameters=None, site="tacc", su=None, **extra):
        return {**_summary(capsule_id, owner, "2026-11-02T10:00:00Z", parent=parent,
                           inputs=((CURATED, "1.1.0"),), award="AST-2434562"),
                "title": f"<b>{capsule_id}</b> | *rms*", "site": site, "status": "completed", "su": su,
                "parameters": parameters or {"threshold": 5}, "slurm_job_id": "812" if site == "tacc" else None,
                "orcid": None, "model": None, **extra}
    shown = {"a": analysis("a", "alice", su=1.25), "b": analysis("b", "bob", parent="a", su=0.5),  # an independent replay
             "c": analysis("c", "alice", parent="a", parameters={"threshold": 4}, site="local", su=0.0),  # her fork
             "d": analysis("d", "carol", parent="c", parameters={"threshold": 4}, site="local",
                           status="failed")}  # a failed replay of the fork, an older capsule: no SU
    retracted = {"subject": "capsule:c", "mark": "Retracted", "explanation": "wrong <i>beam</i>", "by": "admin",
                 "at": "2026-11-30T09:00:00Z", "audit_entry": 3}
    text = summary(shown, origins=Origins(demo_registry), marks=lambda s: [retracted] if s == "capsule:c" else [],
                   about="Every published analysis under award AST-2434562")
    rows = {line.split("|")[1].strip(): line.split("|")[2].strip() for line in text.splitlines()
            if line.startswith("| ") and line.count("|") == 3}
    assert rows["Analyses"] == "4 (3 completed, 1 failed runs)"
    assert rows["Replays"].startswith("2 (1 independent") and rows["Forks"] == "1" and rows["Authors"] == "3"
    assert rows["Retracted"] == "1 (and 1 derived from retracted work)"
    assert rows["Dataset versions read"] == "1 (1 more they derive from)"
    charges = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:6]] for line in text.splitlines()
               if line.startswith("| ") and line.count("|") == 6}
    assert charges["tacc"] == ["2", "2", "1.75", "0"] and charges["local"] == ["2", "0", "0.00", "1"]
    assert charges["**All sites**"] == ["4", "2", "1.75", "1"]
    assert "| U.S. National Science Foundation |" not in text and "| NSF | AST-2434562 | 4 |" in text
    assert "<b>" not in text and "&lt;" not in text and r"\<b\>a\</b\> \| \*rms\*" in text
    assert r"**Retracted** 2026-11-30: wrong \<i\>beam\</i\>" in text and text.count("Derived from retracted work") == 1
    assert demo_registry.get(CURATED, "1.1.0").citation().split()[0] in text  # the version read, cited
    assert "(an origin of a version read)" in text and text.startswith("# Provenance report")
