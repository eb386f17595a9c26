"""``ro-crate-metadata.json`` of a run capsule: RO-Crate 1.1 conforming to the Workflow Run Crate profile
(the notebook is the main entity and the workflow; a CreateAction records its parameters, the dataset
versions it read, its results, when, by whom and where).
"""

from __future__ import annotations

import platform

from ..exceptions import InvalidArgument
from ..version import __version__

# ``environment`` is the Process Run Crate term (https://w3id.org/ro/terms/workflow-run#environment).
CONTEXT = ["https://w3id.org/ro/crate/1.1/context",
           {"wfrun": "https://w3id.org/ro/terms/workflow-run#", "environment": {"@id": "wfrun:environment", "@type": "@id"}}]
PROFILES = {"https://w3id.org/ro/wfrun/process/0.5": ("Process Run Crate", "0.5"),
            "https://w3id.org/ro/wfrun/workflow/0.5": ("Workflow Run Crate", "0.5"),
            "https://w3id.org/workflowhub/workflow-ro-crate/1.0": ("Workflow RO-Crate", "1.0")}
FORMAL_PARAMETER = "https://bioschemas.org/profiles/FormalParameter/1.0-RELEASE"
COMPUTATIONAL_WORKFLOW = "https://bioschemas.org/profiles/ComputationalWorkflow/1.0-RELEASE"
TYPES = {bool: "Boolean", int: "Integer", float: "Float", str: "Text"}


def _type(value: object) -> str:
    return TYPES.get(type(value), "StructuredValue")


def _funding(root: dict, grants: list[dict]) -> list[dict]:
    """The grants of the manifest as RO-Crate's ``funder`` (an Organization, by its ROR id when given) and
    ``funding`` (a Grant with its award number) of the root; the entities they name."""
    entities = {}
    for index, grant in enumerate(grants):
        funder = grant.get("funder_id") or f"#funder-{index}"
        entities.setdefault(funder, {"@id": funder, "@type": "Organization", "name": grant["funder"]})
        entities[f"#grant-{index}"] = {"@id": f"#grant-{index}", "@type": "Grant", "identifier": grant["award"],
                                       "funder": {"@id": funder}, **({"name": grant["title"]} if grant.get("title") else {})}
    if grants:
        root["funder"] = [{"@id": e["@id"]} for e in entities.values() if e["@type"] == "Organization"]
        root["funding"] = [{"@id": e["@id"]} for e in entities.values() if e["@type"] == "Grant"]
    return list(entities.values())


def _affiliations(agent: dict, organizations: list[dict]) -> list[dict]:
    """The author's organizations of the manifest as the agent's ``affiliation`` (by ROR id when given)."""
    entities = {}
    for index, organization in enumerate(organizations):
        key = organization.get("ror") or f"#affiliation-{index}"
        entities.setdefault(key, {"@id": key, "@type": "Organization", "name": organization["name"]})
    if entities:
        agent["affiliation"] = [{"@id": key} for key in entities]
    return list(entities.values())


def build(run: dict) -> dict:
    """``run``: title, owner, site, site_job_id, host, gpus, gpu_type, accounting (Slurm's sacct record),
    started, ended, parameters, inputs ([{id, version, uri, sha256}]), outputs ([{name, sha256, size}]),
    job_id, result_key, error (a failed run)."""
    run_id = f"#run-{run['job_id']}"
    uris = [i["uri"] for i in run["inputs"]]  # two versions under one URI get the version as a fragment
    run = {**run, "inputs": [{**i, "uri": i["uri"] if uris.count(i["uri"]) == 1 else f"{i['uri']}#{i['version']}"}
                             for i in run["inputs"]]}
    params = sorted(run["parameters"].items())
    graph = [
        {"@id": "ro-crate-metadata.json", "@type": "CreativeWork", "conformsTo": {"@id": "https://w3id.org/ro/crate/1.1"},
         "about": {"@id": "./"}},
        {"@id": "./", "@type": "Dataset", "name": run["title"], "datePublished": run["ended"],
         "description": f"Run capsule of analysis job {run['job_id']} on the {run['site']} site"
                        + (" (the run failed)." if run.get("error") else "."),
         "conformsTo": [{"@id": p} for p in PROFILES], "mainEntity": {"@id": "notebook.ipynb"},
         "hasPart": [{"@id": "notebook.ipynb"}, {"@id": "source.ipynb"}, {"@id": "job-manifest.json"}]
         + [{"@id": f"outputs/{o['name']}"} for o in run["outputs"]] + [{"@id": i["uri"]} for i in run["inputs"]],
         "mentions": {"@id": run_id}, "license": {"@id": "https://spdx.org/licenses/CC-BY-4.0"}},
        {"@id": "notebook.ipynb", "@type": ["File", "SoftwareSourceCode", "ComputationalWorkflow"],
         "name": "the analysis notebook, as executed", "conformsTo": {"@id": COMPUTATIONAL_WORKFLOW},
         "programmingLanguage": {"@id": "#python"},
         "input": [{"@id": f"#param-{name}"} for name, _ in params],
         "output": [{"@id": f"#output-{o['name']}"} for o in run["outputs"]]},
        {"@id": "source.ipynb", "@type": "File", "name": "the notebook as submitted (what a replay runs)",
         "encodingFormat": "application/x-ipynb+json"},
        {"@id": "job-manifest.json", "@type": "File", "name": "the job manifest", "encodingFormat": "application/json",
         "conformsTo": {"@id": "https://jupyter-vlass.org/schemas/job-manifest.v1.json"}},
        {"@id": "#python", "@type": "ComputerLanguage", "name": "Python",
         "version": (run.get("software") or {}).get("python") or platform.python_version(),
         "url": {"@id": "https://www.python.org/"}},
        {"@id": "#agent", "@type": "Person", "name": run["owner"], **({"identifier": run["orcid"]} if run.get("orcid") else {})},
        {"@id": "#platform", "@type": "SoftwareApplication", "name": "jupyter-vlass", "version": __version__},
    ]
    graph += [{"@id": uri, "@type": "CreativeWork", "name": name, "version": version}
              for uri, (name, version) in PROFILES.items()]
    packages = sorted(((run.get("software") or {}).get("packages") or {}).items())
    graph += [{"@id": f"#software-{name}", "@type": "SoftwareApplication", "name": name, "version": version}
              for name, version in packages]
    model = run.get("model")
    if model:
        graph.append({"@id": f"#model-{model['name']}", "@type": "SoftwareSourceCode", "name": model["name"],
                      "version": model["version"], **({"codeRepository": model["repository"]} if model.get("repository") else {}),
                      **({"identifier": model["commit"]} if model.get("commit") else {}),
                      **({"sha256": model["weights_sha256"]} if model.get("weights_sha256") else {})})
    if run.get("parent"):
        graph[1]["isBasedOn"] = {"@id": f"capsule:{run['parent']}"}
    graph += _funding(graph[1], (run.get("manifest") or {}).get("funding") or [])
    graph += _affiliations(next(e for e in graph if e["@id"] == "#agent"), (run.get("manifest") or {}).get("affiliations") or [])
    graph += [{"@id": f"#param-{name}", "@type": "FormalParameter", "name": name, "additionalType": _type(value),
               "conformsTo": {"@id": FORMAL_PARAMETER}} for name, value in params]
    graph += [{"@id": f"#pv-{name}", "@type": "PropertyValue", "name": name, "value": str(value),
               "exampleOfWork": {"@id": f"#param-{name}"}} for name, value in params]
    graph += [{"@id": f"#output-{o['name']}", "@type": "FormalParameter", "name": o["name"], "additionalType": "File",
               "conformsTo": {"@id": FORMAL_PARAMETER}} for o in run["outputs"]]
    graph += [{"@id": f"outputs/{o['name']}", "@type": "File", "name": o["name"], "contentSize": str(o["size"]),
               "sha256": o["sha256"], "exampleOfWork": {"@id": f"#output-{o['name']}"},
               **({"identifier": o["uri"]} if o.get("uri") else {})} for o in run["outputs"]]
    graph += [{"@id": i["uri"], "@type": "Dataset", "name": i["id"], "identifier": f"{i['id']}@{i['version']}",
               "version": i["version"], "sha256": i["sha256"],
               "description": "opened by the notebook through the federation" if i.get("how") == "opened"
               else "a pinned input of the job"} for i in run["inputs"]]
    accounting = run.get("accounting") or {}
    environment = [("site", run["site"]), ("site_kind", run["site_kind"]), ("host", run.get("host")), ("gpus", run.get("gpus")),
                   ("gpu_type", run.get("gpu_type")),
                   ("container_image", "{name} ({runtime}) sha256:{sha256}".format(**run["image"]) if run.get("image")
                    else "none: the site's own environment"),
                   ("slurm_job_id", run.get("site_job_id") if run["site_kind"] == "slurm" else None),
                   ("result_key", run["result_key"]),
                   ("service_units", None if run.get("su") is None else f"{float(run['su']):.4f}")]
    environment += [(f"slurm_{name}", accounting.get(name)) for name in
                    ("partition", "account", "state", "nodes", "elapsed_s", "alloc_tres", "start", "end")]
    graph += [{"@id": f"#env-{name}", "@type": "PropertyValue", "name": name, "value": str(value)}
              for name, value in environment if value]
    graph.append({
        "@id": run_id, "@type": "CreateAction", "name": f"papermill run of job {run['job_id']}",
        "instrument": {"@id": "notebook.ipynb"}, "agent": {"@id": "#agent"},
        **({"description": "software: " + ", ".join(f"{n} {v}" for n, v in packages)} if packages else {}),
        "startTime": run["started"], "endTime": run["ended"],
        "actionStatus": {"@id": f"http://schema.org/{'Failed' if run.get('error') else 'Completed'}ActionStatus"},
        **({"error": run["error"]} if run.get("error") else {}),
        "object": [{"@id": i["uri"]} for i in run["inputs"]] + [{"@id": f"#pv-{name}"} for name, _ in params],
        "result": [{"@id": f"outputs/{o['name']}"} for o in run["outputs"]],
        "environment": [{"@id": f"#env-{name}"} for name, value in environment if value]})
    return {"@context": CONTEXT, "@graph": graph}


GATED_OUTPUT = "detections.ecsv"
MODEL_PARAMETER = "model"


def is_detection_analysis(outputs: list[dict], *, model: dict | None = None, parameters: dict | None = None) -> bool:
    """Whether a run is one the publish gate judges: it pins a model (the manifest's ``model``), chooses one
    (a ``model`` parameter, as ``detect-sources`` takes), or writes a detection table (``outputs``:
    ``[{name, ...}]``)."""
    return bool(model) or MODEL_PARAMETER in (parameters or {}) or \
        any(o["name"].rsplit("/", 1)[-1] == GATED_OUTPUT for o in outputs)


def gated_inputs_of_crate(crate: dict) -> list[tuple[str, str]]:
    """``capsule.gated_inputs`` read from a capsule's ``ro-crate-metadata.json`` (what the hub service is given to
    sign): the same answer as for the run it describes."""
    graph = crate.get("@graph") if isinstance(crate, dict) else None
    if not isinstance(graph, list):
        raise InvalidArgument("crate: an RO-Crate with an @graph")
    entities = [e for e in graph if isinstance(e, dict)]
    action = next((e for e in entities if e.get("@type") == "CreateAction"), {})
    if "Failed" in str((action.get("actionStatus") or {}).get("@id", "")):
        return []
    model = any(str(e.get("@id", "")).startswith("#model-") for e in entities)
    parameters = {e.get("name"): e.get("value") for e in entities if str(e.get("@id", "")).startswith("#pv-")}
    outputs = [{"name": str(e.get("name", ""))} for e in entities
               if e.get("@type") == "File" and str(e.get("@id", "")).startswith("outputs/")]
    if not is_detection_analysis(outputs, model={"pinned": True} if model else None, parameters=parameters):
        return []
    inputs = set()
    for e in entities:
        if e.get("@type") == "Dataset" and isinstance(e.get("identifier"), str) and "@" in e["identifier"]:
            dataset_id, version = e["identifier"].rsplit("@", 1)
            inputs.add((dataset_id, version))
    return sorted(inputs)
