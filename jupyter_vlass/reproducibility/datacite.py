"""DataCite 4.5 records of published analyses, in the DataCite REST API's JSON form (the third-party
``datacite`` package validates it and writes its XML): the capsule as a ComputationalNotebook by its author,
the dataset versions it IsDerivedFrom, the model it Requires, its parent (IsDerivedFrom for a fork,
IsVariantFormOf for a replay), a retraction as IsObsoletedBy the expert's mark with a Withdrawn date, and the
grants it was done under as fundingReferences (the funder's ROR id, the award number)."""

from __future__ import annotations

SCHEMA_VERSION = "http://datacite.org/schema/kernel-4"
NAMESPACE = "urn:jupyter-vlass:"


def _urn(kind: str, value: str) -> dict:
    return {"relatedIdentifier": f"{NAMESPACE}{kind}:{value}", "relatedIdentifierType": "URN"}


def record(analysis: dict, *, parent: dict | None = None, marks: list[dict] = (),
           publisher: str = "jupyter-vlass") -> dict:
    """The record of ``analysis`` (a capsule store's summary); ``parent``: the summary of the capsule it derives
    from, when the reader may see it; ``marks``: those made on it (their ``at`` an ISO time)."""
    published = analysis["published"] or analysis["ended"] or ""
    related = [{**_urn("dataset", f"{p['id']}@{p['version']}"), "relationType": "IsDerivedFrom",
                "resourceTypeGeneral": "Dataset"} for p in analysis["inputs"] + analysis["opened"]]
    model = analysis.get("model")
    if model:
        related.append({**_urn("model", f"{model['name']}@{model['version']}"), "relationType": "Requires",
                        "resourceTypeGeneral": "Software"})
    if parent is not None:
        replay = (analysis["inputs"], analysis["parameters"]) == (parent["inputs"], parent["parameters"])
        related.append({**_urn("capsule", parent["id"]), "relationType": "IsVariantFormOf" if replay else "IsDerivedFrom",
                        "resourceTypeGeneral": "ComputationalNotebook"})
    dates = [{"date": published[:10], "dateType": "Issued"}] if published else []
    retractions = [m for m in marks if m["mark"] == "Retracted" and not m.get("because")]
    for mark in retractions[:1]:  # the first retraction withdrew it
        related.append({**_urn("mark", str(mark["audit_entry"])), "relationType": "IsObsoletedBy"})
        dates.append({"date": str(mark["at"])[:10], "dateType": "Withdrawn",
                      "dateInformation": f"retracted by {mark['by'] or 'an expert'}: {mark['explanation']}"[:1000]})
    return {
        "types": {"resourceTypeGeneral": "ComputationalNotebook", "resourceType": "signed analysis capsule"},
        "alternateIdentifiers": [{"alternateIdentifier": analysis["id"], "alternateIdentifierType": "sha256"},
                                 {"alternateIdentifier": f"{NAMESPACE}capsule:{analysis['id']}",
                                  "alternateIdentifierType": "URN"}],
        "creators": [{"name": analysis["owner"], "nameType": "Personal",
                      **({"nameIdentifiers": [{"nameIdentifier": analysis["orcid"], "nameIdentifierScheme": "ORCID",
                                               "schemeUri": "https://orcid.org"}]} if analysis.get("orcid") else {})}],
        "titles": [{"title": analysis["title"]}],
        "publisher": {"name": publisher},
        "publicationYear": published[:4] or "0000",
        "dates": dates,
        "relatedIdentifiers": related,
        "rightsList": [{"rights": "Creative Commons Attribution 4.0 International", "rightsIdentifier": "cc-by-4.0",
                        "rightsIdentifierScheme": "SPDX", "rightsUri": "https://spdx.org/licenses/CC-BY-4.0"}],
        "descriptions": [{"description": f"Run capsule of an analysis on the {analysis['site']} site"
                                         + (" (the run failed)" if analysis["status"] == "failed" else ""),
                          "descriptionType": "TechnicalInfo"}],
        "version": "1",
        "schemaVersion": SCHEMA_VERSION,
        **({"fundingReferences": [_funding_reference(g) for g in analysis["funding"]]} if analysis.get("funding") else {}),
    }


def _funding_reference(grant: dict) -> dict:
    """A grant of the manifest as DataCite's fundingReference (the funder by its ROR id when given)."""
    return {"funderName": grant["funder"], "awardNumber": grant["award"],
            **({"funderIdentifier": grant["funder_id"], "funderIdentifierType": "ROR"} if grant.get("funder_id") else {}),
            **({"awardTitle": grant["title"]} if grant.get("title") else {})}
