"""The provenance chain of published analyses as one Provenance Run Crate (RO-Crate 1.1, profile 0.5): the chain
is the workflow, each capsule's notebook a step's tool, each run a step's CreateAction (who, when, the dataset
versions read, the outputs), orchestrated by jupyter-vlass (an OrganizeAction over one ControlAction per step).
A zipped crate of two files, its metadata and the chain as PROV-JSON (the main workflow file); every entity is
named by the same identifiers as the PROV export (``urn:jupyter-vlass:capsule:…``, ``urn:jupyter-vlass:dataset:…``)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from ..version import __version__
from .crate import COMPUTATIONAL_WORKFLOW, CONTEXT, PROFILES
from .chain import chain as _chain, local_name as _name

RUN_CRATE_PROFILES = {**PROFILES, "https://w3id.org/ro/wfrun/provenance/0.5": ("Provenance Run Crate", "0.5")}
URN = "urn:jupyter-vlass:"
WORKFLOW = "chain.prov.json"  # the crate's main workflow file: the chain as PROV-JSON


def crate_archive(store, capsule_ids: Iterable[str], prov_json: str) -> bytes:
    """The Provenance Run Crate as a zip (RO-Crate's packaging): its metadata and the chain's PROV-JSON."""
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("ro-crate-metadata.json", json.dumps(run_crate(store, capsule_ids), indent=1))
        archive.writestr(WORKFLOW, prov_json)
    return buffer.getvalue()


def _order(shown: dict[str, dict]) -> list[dict]:
    """The chain's analyses, each after the one it derives from, then by publication."""
    ordered, placed = [], set()
    pending = sorted(shown.values(), key=lambda a: (a["published"] or "", a["id"]))
    while pending:
        ready = [a for a in pending if (a["parent"] or "") not in shown or a["parent"] in placed]
        for analysis in ready or pending[:1]:
            ordered.append(analysis)
            placed.add(analysis["id"])
        pending = [a for a in pending if a["id"] not in placed]
    return ordered


def run_crate(store, capsule_ids: Iterable[str]) -> dict:
    """The ``ro-crate-metadata.json`` of the chain of ``capsule_ids`` and everything they derive from that
    ``store`` shows the reader (as :func:`~.provenance.document` follows it)."""
    analyses = _order(_chain(store, capsule_ids))
    digest = hashlib.sha256(json.dumps([a["id"] for a in analyses]).encode()).hexdigest()
    workflow = WORKFLOW
    graph = [
        {"@id": "ro-crate-metadata.json", "@type": "CreativeWork", "about": {"@id": "./"},
         "conformsTo": [{"@id": "https://w3id.org/ro/crate/1.1"}, {"@id": "https://w3id.org/workflowhub/workflow-ro-crate/1.0"}]},
        {"@id": "./", "@type": "Dataset", "name": f"Provenance of {len(analyses)} published analyses",
         "description": "The chain of published analyses, the runs that made them and the dataset versions they read.",
         "datePublished": max((a["published"] or "" for a in analyses), default="") or None,
         "license": {"@id": "https://spdx.org/licenses/CC-BY-4.0"}, "mainEntity": {"@id": workflow},
         "conformsTo": [{"@id": p} for p in RUN_CRATE_PROFILES], "mentions": {"@id": "#chain-run"},
         "hasPart": [{"@id": workflow}]},
        {"@id": workflow, "@type": ["File", "SoftwareSourceCode", "ComputationalWorkflow", "HowTo"],
         "name": "the chain of analyses (its W3C PROV-JSON)", "encodingFormat": "application/json",
         "identifier": f"{URN}chain:{digest}", "conformsTo": {"@id": COMPUTATIONAL_WORKFLOW},
         "programmingLanguage": {"@id": "#jupyter-vlass"},
         "hasPart": [{"@id": f"{URN}capsule:{a['id']}"} for a in analyses],
         "step": [{"@id": f"#step-{n}"} for n in range(len(analyses))]},
        {"@id": "#jupyter-vlass", "@type": ["ComputerLanguage", "SoftwareApplication"], "name": "jupyter-vlass",
         "version": __version__},
    ]
    graph += [{"@id": uri, "@type": "CreativeWork", "name": name, "version": version}
              for uri, (name, version) in RUN_CRATE_PROFILES.items()]
    people, datasets, controls = {}, {}, []
    for n, analysis in enumerate(analyses):
        tool, run = f"{URN}capsule:{analysis['id']}", f"#run-{analysis['id'][:16]}"
        person = f"#person-{_name(analysis['owner'])}"
        people.setdefault(person, {"@id": person, "@type": "Person", "name": analysis["owner"],
                                   **({"identifier": analysis["orcid"]} if analysis.get("orcid") else {})})
        pins = analysis["inputs"] + analysis["opened"]
        for pin in pins:
            uri = f"{URN}dataset:{_name(pin['id'] + '@' + pin['version'])}"
            datasets.setdefault(uri, {"@id": uri, "@type": "Dataset", "name": pin["id"], "version": pin["version"],
                                      **({"sha256": pin["sha256"]} if pin.get("sha256") else {})})
        graph += [
            {"@id": tool, "@type": "SoftwareApplication", "name": analysis["title"],
             "description": f"the notebook of capsule {analysis['id']} ({analysis['site']} site)",
             **({"isBasedOn": {"@id": f"{URN}capsule:{analysis['parent']}"}} if analysis["parent"] else {})},
            {"@id": f"#step-{n}", "@type": "HowToStep", "position": str(n), "workExample": {"@id": tool}},
            {"@id": run, "@type": "CreateAction", "name": f"the run of {analysis['title']}", "instrument": {"@id": tool},
             "agent": {"@id": person}, "startTime": analysis["started"], "endTime": analysis["ended"],
             "actionStatus": {"@id": "http://schema.org/" + ("Failed" if analysis["status"] == "failed" else "Completed")
                              + "ActionStatus"},
             "object": [{"@id": f"{URN}dataset:{_name(p['id'] + '@' + p['version'])}"} for p in pins],
             "result": [{"@id": f"{URN}output:{_name(analysis['id'] + '/' + o['name'])}"} for o in analysis["outputs"]]},
            {"@id": f"#control-{n}", "@type": "ControlAction", "name": f"step {n}",
             "instrument": {"@id": f"#step-{n}"}, "object": {"@id": run}},
        ]
        graph += [{"@id": f"{URN}output:{_name(analysis['id'] + '/' + o['name'])}", "@type": "CreativeWork",
                   "name": o["name"], "sha256": o["sha256"]} for o in analysis["outputs"]]
        controls.append({"@id": f"#control-{n}"})
    graph += list(people.values()) + list(datasets.values())
    graph[1]["hasPart"] += [{"@id": d} for d in datasets]  # data entities, referenced from the root
    graph += [
        {"@id": "#chain-run", "@type": "CreateAction", "name": "the chain, as its runs made it",
         "instrument": {"@id": workflow}, "object": [{"@id": d} for d in datasets],
         "result": [{"@id": f"{URN}capsule:{a['id']}"} for a in analyses],
         "startTime": min((a["started"] for a in analyses if a["started"]), default=None),
         "endTime": max((a["ended"] for a in analyses if a["ended"]), default=None)},
        {"@id": "#organize", "@type": "OrganizeAction", "name": "jupyter-vlass ran the chain's jobs",
         "instrument": {"@id": "#jupyter-vlass"}, "object": controls, "result": {"@id": "#chain-run"}},
    ]
    return {"@context": CONTEXT, "@graph": [{k: v for k, v in e.items() if v is not None} for e in graph]}
