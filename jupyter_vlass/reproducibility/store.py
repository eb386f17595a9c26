"""The published capsules of an artifact store (a directory): list, show, the DataCite-ready manifest,
the most-reproduced leaderboard and the analyses a new dataset version affects.

Everything is read from the capsules themselves (their crates and manifests), so a store copied or
shared between sites answers the same.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

from .. import __version__
from ..exceptions import NotFound
from .capsule import CRATE, MANIFEST

CAPSULE_ID = re.compile(r"^[0-9a-f]{64}$")


class UnknownAnalysis(NotFound):
    reason = "unknown_analysis"


def _entities(crate: dict) -> dict:
    return {e["@id"]: e for e in crate["@graph"]}


class CapsuleStore:
    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    def path(self, capsule_id: str) -> Path:
        if not isinstance(capsule_id, str) or not CAPSULE_ID.match(capsule_id) or not (self.folder / capsule_id).is_dir():
            raise UnknownAnalysis(f"no published analysis {str(capsule_id)[:64]!r}")
        return self.folder / capsule_id

    def _ids(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        return sorted(p.name for p in self.folder.iterdir() if p.is_dir() and CAPSULE_ID.match(p.name))

    def show(self, capsule_id: str) -> dict:
        path = self.path(capsule_id)
        crate = json.loads((path / CRATE).read_text())
        manifest = json.loads((path / MANIFEST).read_text())
        entities = _entities(crate)
        root = entities["./"]
        run = next(e for e in crate["@graph"] if e.get("@type") == "CreateAction")
        parent = (root.get("isBasedOn") or {}).get("@id", "").removeprefix("capsule:") or None
        return {"id": capsule_id, "title": root["name"], "published": root["datePublished"],
                "owner": entities["#agent"]["name"], "parent": parent, "site": manifest["site"],
                "inputs": manifest.get("inputs", []), "parameters": manifest.get("parameters", {}),
                "opened": [{"id": e["name"], "version": e["version"], "sha256": e["sha256"]} for e in crate["@graph"]
                           if e.get("@type") == "Dataset" and e.get("description", "").startswith("opened")],
                "outputs": [{"name": r["@id"].removeprefix("outputs/"), "sha256": entities[r["@id"]]["sha256"]}
                            for r in run.get("result", [])],
                "started": run.get("startTime"), "ended": run.get("endTime"),
                "status": "failed" if "Failed" in run.get("actionStatus", {}).get("@id", "") else "completed",
                **({"error": run["error"]} if run.get("error") else {})}

    def list(self) -> list[dict]:
        return sorted((self.show(i) for i in self._ids()), key=lambda a: a["published"] or "", reverse=True)

    def leaderboard(self) -> list[dict]:
        """Capsules by how often they were replayed successfully (same inputs and parameters, a parent link),
        and how many of those replays gave the same output bytes."""
        analyses = {a["id"]: a for a in self.list()}
        replays, identical = Counter(), Counter()
        for child in analyses.values():
            parent = analyses.get(child["parent"] or "")
            if parent is None or "failed" in (child["status"], parent["status"]) or (child["inputs"], child["parameters"]) != (parent["inputs"], parent["parameters"]):
                continue  # not a replay (a fork, or the parent is not in this store)
            replays[parent["id"]] += 1
            identical[parent["id"]] += child["outputs"] == parent["outputs"]
        return [{"id": i, "title": analyses[i]["title"], "replays": n, "identical_outputs": identical[i]}
                for i, n in replays.most_common()]

    def affected_by(self, dataset_id: str, version: str, sha256: str | None = None) -> list[dict]:
        """Published analyses a new or changed ``version`` of ``dataset_id`` affects, and how: pinned to
        another version (``major`` when the first number changed, else ``minor``), or to this version
        whose bytes (``sha256``) are no longer the ones they read (``changed in place``)."""
        return self.affected_by_versions([{"id": dataset_id, "version": version, "sha256": sha256}])

    def affected_by_versions(self, versions: list[dict]) -> list[dict]:
        """:meth:`affected_by` for many ``{id, version, sha256}`` (a sync's new versions), reading the store once."""
        def major(v: str) -> str:
            found = re.search(r"\d+", v)
            return found.group(0) if found else v

        wanted = {}
        for v in versions:
            wanted.setdefault(v["id"], []).append(v)
        affected = []
        for analysis in self.list() if wanted else []:
            for pin in analysis["inputs"] + analysis["opened"]:
                for new in wanted.get(pin["id"], []):
                    if pin["version"] != new["version"]:
                        kind = "major" if major(pin["version"]) != major(new["version"]) else "minor"
                    elif new.get("sha256") and pin.get("sha256") and pin["sha256"] != new["sha256"]:
                        kind = "changed in place"
                    else:
                        continue
                    affected.append({"id": analysis["id"], "title": analysis["title"], "dataset": pin["id"],
                                     "pinned": pin["version"], "new": new["version"], "change": kind})
        return affected

    def datacite(self, capsule_id: str, *, publisher: str = "jupyter-vlass") -> dict:
        """DataCite-ready schema.org JSON-LD: creators, title, publisher, year, identifiers, and related
        identifiers for the datasets, the model and the parent analysis."""
        analysis = self.show(capsule_id)
        crate = json.loads((self.path(capsule_id) / CRATE).read_text())
        entities = _entities(crate)
        related = [{"@type": "Dataset", "@id": e["@id"], "identifier": e["identifier"], "version": e["version"],
                    "relationType": "IsDerivedFrom"}
                   for e in crate["@graph"] if e.get("@type") == "Dataset" and e["@id"] != "./"]
        related += [{"@type": "SoftwareSourceCode", "name": e["name"], "version": e["version"],
                     "identifier": e.get("identifier"), "relationType": "Requires"}
                    for i, e in entities.items() if i.startswith("#model-")]
        if analysis["parent"]:
            related.append({"@type": "CreativeWork", "identifier": f"capsule:{analysis['parent']}",
                            "relationType": "IsVariantFormOf"})
        return {"@context": "https://schema.org", "@type": "Dataset", "@id": f"capsule:{capsule_id}",
                "identifier": [{"@type": "PropertyValue", "propertyID": "sha256", "value": capsule_id}],
                "name": analysis["title"], "creator": [{"@type": "Person", "name": analysis["owner"]}],
                "publisher": {"@type": "Organization", "name": publisher},
                "datePublished": analysis["published"], "publicationYear": (analysis["published"] or "")[:4],
                "version": "1", "isBasedOn": related, "license": "https://spdx.org/licenses/CC-BY-4.0",
                "sdPublisher": {"@type": "SoftwareApplication", "name": "jupyter-vlass", "version": __version__}}

    def check_notebook(self, path: Path, *, keyring) -> dict:
        """Whether the notebook at ``path`` is a published capsule's notebook as published.

        A notebook inside a capsule directory is checked with the whole capsule; a copy elsewhere is
        matched to its capsule in this store by the run recorded in its metadata and compared with the
        signed digest of the published notebook.
        """
        from ..compute.staging import sha256_file
        from .capsule import NOTEBOOK, SIGNATURE, CapsuleChanged, _bundle, _statement, verify

        try:
            document = json.loads(Path(path).read_text())
            crate = document["metadata"]["jupyter_vlass"]["ro-crate"]
            run_id = next(e["@id"] for e in crate["@graph"] if e.get("@type") == "CreateAction")
        except (OSError, ValueError, KeyError, TypeError, StopIteration):
            raise UnknownAnalysis(f"{Path(path).name} is not the notebook of a published analysis") from None
        folder = Path(path).parent
        if (folder / SIGNATURE).exists() and Path(path).name == NOTEBOOK:
            try:
                checked = verify(folder, keyring=keyring)
            except CapsuleChanged as error:
                return {"capsule_id": folder.name, "status": "modified", "message": error.message}
            return {"capsule_id": checked["capsule_id"], "status": "verified",
                    "message": f"verified: {checked['files']} files signed by key {checked['key_id'][:16]}"}
        for capsule_id in self._ids():
            capsule = self.folder / capsule_id
            published = json.loads((capsule / "ro-crate-metadata.json").read_text())
            if not any(e.get("@id") == run_id for e in published["@graph"]):
                continue
            signed = _statement(_bundle(capsule / SIGNATURE))
            if sha256_file(Path(path)) == signed.get(NOTEBOOK):
                return {"capsule_id": capsule_id, "status": "verified",
                        "message": "the same bytes as the published notebook of this capsule"}
            return {"capsule_id": capsule_id, "status": "modified",
                    "message": "modified since publication (its bytes differ from the signed notebook)"}
        return {"capsule_id": None, "status": "unknown",
                "message": "published elsewhere: no capsule of this run in this store"}
