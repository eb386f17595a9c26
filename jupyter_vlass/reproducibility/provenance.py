"""The provenance chain of published analyses as W3C PROV, through the ``prov`` package: each capsule, the run
that made it (site, Slurm job and accounting, model), the person, the dataset versions it read, its outputs,
the capsules it derives from (replays and forks), the grants it was done under (the author acted on behalf of
the funder) and the marks made on it (a retraction invalidates it). :func:`select` picks an institute's report:
by dataset version (with everything derived from it), date range, authors and award. One
set of identifiers for every format: PROV-JSON (the canonical one), PROV-O (Turtle or JSON-LD), PROV-N and
PROV-XML. IVOA ProvenanceDM terms are typed attributes (``voprov:type`` of an activity)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

from ..exceptions import InvalidArgument
from .layout import CRATE
from .chain import MAX_CAPSULES, Origins, chain as _chain, local_name as _name

FORMATS = {"prov-json": "application/json", "datacite": "application/vnd.datacite.datacite+json", "prov-o": "text/turtle",
           "prov-jsonld": "application/ld+json", "crate": "application/zip",
           "prov-n": "text/provenance-notation", "prov-xml": "application/xml", "summary": "text/markdown"}
NAMESPACES = {"vlass": "https://jupyter-vlass.org/ns/prov#", "voprov": "http://www.ivoa.net/documents/ProvenanceDM/ns/voprov/",
              "capsule": "urn:jupyter-vlass:capsule:", "run": "urn:jupyter-vlass:run:",
              "dataset": "urn:jupyter-vlass:dataset:", "output": "urn:jupyter-vlass:output:",
              "user": "urn:jupyter-vlass:user:", "model": "urn:jupyter-vlass:model:", "mark": "urn:jupyter-vlass:mark:",
              "funder": "urn:jupyter-vlass:funder:", "ror": "https://ror.org/"}


def _environment(crate: dict) -> dict[str, str]:
    return {e["name"]: e["value"] for e in crate["@graph"]
            if e.get("@type") == "PropertyValue" and str(e.get("@id", "")).startswith("#env-")}


def document(store, capsule_ids: Iterable[str], *, marks: Callable[[str], list[dict]] | None = None,
             origins: Origins | None = None):
    """The PROV document of ``capsule_ids`` and every capsule they derive from in ``store`` (a capsule store:
    ``show``, ``path``, ``lineage``); ``marks(subject)``: the marks made on a capsule or dataset version
    (those inherited from what it derives from, which carry ``because``, are left to their own subjects);
    ``origins``: the dataset versions they read traced back through the registry (:class:`.chain.Origins`)."""
    from prov.model import PROV_TYPE, ProvDocument

    shown = _chain(store, capsule_ids)
    doc = ProvDocument()
    for prefix, uri in NAMESPACES.items():
        doc.add_namespace(prefix, uri)
    q = doc.valid_qualified_name  # a type is a qualified name, not a string
    people, models, datasets = set(), set(), set()
    for capsule_id, analysis in shown.items():
        crate = json.loads((store.path(capsule_id) / CRATE).read_text())
        run = next(e for e in crate["@graph"] if e.get("@type") == "CreateAction")
        env = _environment(crate)
        capsule, activity = f"capsule:{capsule_id}", f"run:{_name(run['@id'].removeprefix('#run-'))}"
        doc.entity(capsule, {PROV_TYPE: q("vlass:Capsule"), "prov:label": analysis["title"],
                             "vlass:published": analysis["published"] or "", "vlass:status": analysis["status"]})
        doc.activity(activity, analysis["started"], analysis["ended"], {
            "voprov:type": "Analysis", "prov:label": run.get("name", ""), "vlass:site": analysis["site"],
            "vlass:status": analysis["status"], **{f"vlass:{k}": str(v) for k, v in sorted(env.items())},
            **({"vlass:parameters": json.dumps(analysis["parameters"], sort_keys=True)} if analysis["parameters"] else {})})
        person = f"user:{_name(analysis['owner'])}"
        if person not in people:
            people.add(person)
            doc.agent(person, {PROV_TYPE: q("prov:Person"), "prov:label": analysis["owner"],
                               **({"vlass:orcid": analysis["orcid"]} if analysis.get("orcid") else {})})
        doc.wasAssociatedWith(activity, person)
        for grant in analysis.get("funding") or []:  # the author acted on behalf of the funder, under the award
            funder = _funder(doc, grant)
            doc.actedOnBehalfOf(person, funder, activity, other_attributes={"vlass:award": grant["award"]})
        doc.wasGeneratedBy(capsule, activity)
        doc.wasAttributedTo(capsule, person)
        model = analysis.get("model")
        if model:
            agent = f"model:{_name(model['name'])}@{_name(model['version'])}"
            if agent not in models:
                models.add(agent)
                doc.agent(agent, {PROV_TYPE: q("prov:SoftwareAgent"), "prov:label": f"{model['name']} {model['version']}",
                                  **{f"vlass:{k}": str(model[k]) for k in ("repository", "commit", "weights_sha256")
                                     if model.get(k)}})
            doc.wasAssociatedWith(activity, agent)
        for pin in analysis["inputs"] + analysis["opened"]:
            doc.used(activity, _dataset(doc, pin, marks, datasets))
        for output in analysis["outputs"]:
            entity = f"output:{_name(capsule_id + '/' + output['name'])}"
            doc.entity(entity, {"prov:label": output["name"], "vlass:sha256": output["sha256"]})
            doc.wasGeneratedBy(entity, activity)
            doc.hadMember(capsule, entity)
        parent = shown.get(analysis["parent"] or "")
        if parent is not None:
            kind = "vlass:Replay" if (analysis["inputs"], analysis["parameters"]) == (parent["inputs"], parent["parameters"]) \
                else "vlass:Fork"
            doc.wasDerivedFrom(capsule, f"capsule:{parent['id']}", other_attributes={PROV_TYPE: q(kind)})
        for mark in _own(marks, capsule):
            _mark(doc, capsule, mark)
    origins = origins or Origins()
    for pin in origins.walk(_read(shown)):  # each version's origins, as far as the reader may see them
        entry = origins.version(pin)
        if entry is not None:
            entity = _dataset(doc, entry, marks, datasets)
            for parent in origins.parents(entry):
                doc.wasDerivedFrom(entity, _dataset(doc, origins.version(parent) or _pin(parent), marks, datasets))
    return doc


def _read(shown: dict[str, dict]) -> list[str]:
    return [f"{p['id']}@{p['version']}" for a in shown.values() for p in a["inputs"] + a["opened"]]


def _pin(pin: str) -> dict:
    dataset_id, _, version = pin.rpartition("@")
    return {"id": dataset_id, "version": version}


def _dataset(doc, version: dict, marks, added: set) -> str:
    """The entity of a dataset version (a pin ``{id, version, sha256}`` or a registry entry), added once with the
    marks made on it."""
    from prov.model import PROV_TYPE

    pin = f"{version['id']}@{version['version']}"
    entity = f"dataset:{_name(pin)}"
    if entity not in added:
        added.add(entity)
        doc.entity(entity, {PROV_TYPE: doc.valid_qualified_name("voprov:Dataset"), "prov:label": version["id"],
                            "vlass:version": version["version"], "vlass:sha256": version.get("sha256") or ""})
        for mark in _own(marks, pin):
            _mark(doc, entity, mark)
    return entity


def _funder(doc, grant: dict) -> str:
    """The funder of ``grant`` as a PROV organization (by its ROR id when the manifest gives one)."""
    from prov.model import PROV_TYPE

    ror = grant.get("funder_id") or ""
    agent = f"ror:{ror.removeprefix('https://ror.org/')}" if ror else f"funder:{_name(grant['funder'])}"
    if not doc.get_record(agent):
        doc.agent(agent, {PROV_TYPE: doc.valid_qualified_name("prov:Organization"), "prov:label": grant["funder"]})
    return agent


def select(analyses: list[dict], *, dataset: str | None = None, since: str | None = None, until: str | None = None,
           authors: Iterable[str] = (), award: str | None = None) -> list[str]:
    """The ids of ``analyses`` (a store's summaries) an institute's report covers: those that read ``dataset``
    (an id, or ``id@version``) and everything derived from them; published from ``since`` to ``until`` (ISO dates,
    both included); by one of ``authors``; done under ``award``. Each criterion given narrows the selection."""
    authors = set(authors)
    for name, value in (("since", since), ("until", until)):
        if value is not None and not _iso_date(value):
            raise InvalidArgument(f"{name}: a date as YYYY-MM-DD")

    def reads(analysis: dict) -> bool:
        return any(dataset in (p["id"], f"{p['id']}@{p['version']}") for p in analysis["inputs"] + analysis["opened"])
    chosen = {a["id"] for a in analyses if dataset is None or reads(a)}
    if dataset is not None:  # what derives from them (forks, replays) belongs to the dataset version's report
        children: dict[str, list[str]] = {}
        for analysis in analyses:
            children.setdefault(analysis["parent"] or "", []).append(analysis["id"])
        todo = list(chosen)
        while todo:
            for child in children.get(todo.pop(), []):
                if child not in chosen:
                    chosen.add(child)
                    todo.append(child)
    day = lambda a: (a["published"] or "")[:10]  # noqa: E731
    return [a["id"] for a in analyses if a["id"] in chosen
            and (since is None or day(a) >= since) and (until is None or day(a) <= until)
            and (not authors or a["owner"] in authors)
            and (award is None or any(g.get("award") == award for g in a.get("funding") or []))]


def _iso_date(text: str) -> bool:
    from datetime import date

    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10


def _own(marks, subject: str) -> list[dict]:
    return [m for m in (marks(subject) if marks else []) if not m.get("because")]


def _mark(doc, entity: str, mark: dict) -> None:
    """A mark as the activity of its expert: a retraction invalidates ``entity``, an update influences it."""
    from prov.model import PROV_TYPE

    activity = f"mark:{mark['audit_entry']}"
    if doc.get_record(activity):
        return
    doc.activity(activity, mark["at"], mark["at"], {PROV_TYPE: doc.valid_qualified_name(f"vlass:{mark['mark']}"),
                                                    "prov:label": mark["explanation"]})
    if mark.get("by"):
        expert = f"user:{_name(mark['by'])}"
        if not doc.get_record(expert):
            doc.agent(expert, {PROV_TYPE: doc.valid_qualified_name("prov:Person"), "prov:label": mark["by"]})
        doc.wasAssociatedWith(activity, expert)
    if mark["mark"] == "Retracted":
        doc.wasInvalidatedBy(entity, activity, mark["at"])
    else:
        doc.wasInfluencedBy(entity, activity)


def datacite_records(store, capsule_ids: Iterable[str], *, marks: Callable[[str], list[dict]] | None = None,
                     origins: Origins | None = None) -> list[dict]:
    """A DataCite 4.5 record (:func:`.datacite.record`) of each of ``capsule_ids`` and of what they derive from, and
    one of each derived dataset version they read or that those derive from (:func:`.datacite.dataset_record`)."""
    from .datacite import dataset_record, record

    shown, origins = _chain(store, capsule_ids), origins or Origins()
    records = [record(a, parent=shown.get(a["parent"] or ""), marks=_own(marks, f"capsule:{a['id']}"))
               for a in shown.values()]
    for pin in origins.walk(_read(shown)):
        entry = origins.version(pin)
        if entry is not None and entry.get("derived_from"):
            records.append(dataset_record(entry, previous=origins.previous(pin), marks=_own(marks, pin)))
    return records


def export(store, capsule_ids: Iterable[str], fmt: str, *, marks=None, origins: Origins | None = None,
           about: str = "") -> str | bytes:
    """The chain of ``capsule_ids`` in ``fmt`` (one of :data:`FORMATS`; ``crate``: the bytes of a zip;
    ``summary``: Markdown for people, ``about`` saying what the report covers)."""
    if fmt not in FORMATS:
        raise InvalidArgument(f"format: one of {', '.join(FORMATS)}")
    if fmt == "datacite":
        return json.dumps(datacite_records(store, capsule_ids, marks=marks, origins=origins), indent=1)
    if fmt == "summary":
        from .report import summary

        return summary(_chain(store, capsule_ids), origins=origins or Origins(), marks=marks, about=about)
    if fmt == "crate":  # the Provenance Run Crate, zipped
        from .run_crate import crate_archive

        ids = list(capsule_ids)
        return crate_archive(store, ids, serialize(document(store, ids, marks=marks, origins=origins), "prov-json"))
    return serialize(document(store, capsule_ids, marks=marks, origins=origins), fmt)


def serialize(doc, fmt: str) -> str:
    """``doc`` in one of the PROV :data:`FORMATS`."""
    if fmt == "prov-json":
        return doc.serialize(format="json", indent=1)
    if fmt == "prov-o":
        return doc.serialize(format="rdf", rdf_format="turtle")
    if fmt == "prov-jsonld":
        return doc.serialize(format="rdf", rdf_format="json-ld")
    if fmt == "prov-n":
        return doc.get_provn()
    if fmt == "prov-xml":
        return doc.serialize(format="xml")
    raise InvalidArgument(f"format: one of {', '.join(FORMATS)}")
