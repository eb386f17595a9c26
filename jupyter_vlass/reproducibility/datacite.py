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
        relation = "IsVariantFormOf" if replay else "IsNewVersionOf" if parent["owner"] == analysis["owner"] \
            else "IsDerivedFrom"  # its author's own later fork is the analysis's next version, as the gallery shows it
        related.append({**_urn("capsule", parent["id"]), "relationType": relation,
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
                                               "schemeUri": "https://orcid.org"}]} if analysis.get("orcid") else {}),
                      **({"affiliation": [_affiliation(a) for a in analysis["affiliations"]]}
                         if analysis.get("affiliations") else {})}],
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


def _affiliation(organization: dict) -> dict:
    """An organization of the manifest as a creator's DataCite affiliation (by its ROR id when given)."""
    return {"name": organization["name"],
            **({"affiliationIdentifier": organization["ror"], "affiliationIdentifierScheme": "ROR",
                "schemeUri": "https://ror.org"} if organization.get("ror") else {})}


def dataset_record(version: dict, *, previous: dict | None = None, marks: list[dict] = (),
                   publisher: str = "jupyter-vlass") -> dict:
    """The record of a dataset version an analysis read (a registry's ``describe`` entry of one version):
    IsDerivedFrom each version it derives from that the reader may see (a hidden one is left out), IsNewVersionOf
    the version before it, IsObsoletedBy its withdrawal or retraction with a Withdrawn date."""
    pin = f"{version['id']}@{version['version']}"
    related = [{**_urn("dataset", p["pin"] if p.get("id") is None else f"{p['id']}@{p['version']}"),
                "relationType": "IsDerivedFrom", "resourceTypeGeneral": "Dataset"}
               for p in version.get("derived_from_resolved", []) if not p.get("restricted")]
    if previous is not None:
        related.append({**_urn("dataset", f"{previous['id']}@{previous['version']}"), "relationType": "IsNewVersionOf",
                        "resourceTypeGeneral": "Dataset"})
    released = (version.get("release_date") or version.get("ingested_at") or "")[:10]
    dates = [{"date": released, "dateType": "Issued"}] if released else []
    retracted = next((m for m in marks if m["mark"] == "Retracted" and not m.get("because")), None)
    if retracted is not None:
        related.append({**_urn("mark", str(retracted["audit_entry"])), "relationType": "IsObsoletedBy"})
        dates.append({"date": str(retracted["at"])[:10], "dateType": "Withdrawn",
                      "dateInformation": f"retracted by {retracted['by'] or 'an expert'}: {retracted['explanation']}"[:1000]})
    elif version.get("withdrawn_at"):
        dates.append({"date": version["withdrawn_at"][:10], "dateType": "Withdrawn",
                      "dateInformation": "withdrawn from its source"})
    return {
        "types": {"resourceTypeGeneral": "Dataset", "resourceType": version.get("dataproduct_type") or "dataset"},
        "alternateIdentifiers": [{"alternateIdentifier": f"{NAMESPACE}dataset:{pin}", "alternateIdentifierType": "URN"},
                                 *([{"alternateIdentifier": version["sha256"], "alternateIdentifierType": "sha256"}]
                                   if version.get("sha256") else []),
                                 {"alternateIdentifier": version["uri"], "alternateIdentifierType": "URL"}],
        "creators": [{"name": version["source"], "nameType": "Organizational"}],
        "titles": [{"title": version.get("title") or version["id"]}],
        "publisher": {"name": publisher},
        "publicationYear": released[:4] or "0000",
        "dates": dates,
        "relatedIdentifiers": related,
        "descriptions": [{"description": version.get("citation") or pin, "descriptionType": "Other"}],
        "version": version["version"],
        "schemaVersion": SCHEMA_VERSION,
    }
