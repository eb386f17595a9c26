"""The published capsules of an artifact store (a directory or an S3 bucket): list, show, the DataCite-ready manifest,
the most-reproduced leaderboard and the analyses a new dataset version affects.

Everything is read from the capsules themselves (their crates and manifests), so a store copied or
shared between sites answers the same.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import uuid
from collections import Counter
from pathlib import Path

from ..exceptions import Forbidden, NotFound
from ..jobs.staging import sha256_file
from ..store.location import data_dir
from ..version import __version__
from .layout import (
    CRATE,
    MANIFEST,
    NOTEBOOK,
    SIGNATURE,
    CapsuleChanged,
    signed_files,
    signed_paths,
)
from .verify import verify

CAPSULE_ID = re.compile(r"^[0-9a-f]{64}$")
UNKNOWN_NOTEBOOK = {"capsule_id": None, "status": "unknown",
                    "message": "published elsewhere: no capsule of this run in this store"}


class UnknownAnalysis(NotFound):
    reason = "unknown_analysis"


def _entities(crate: dict) -> dict:
    return {e["@id"]: e for e in crate["@graph"]}


class CapsuleStore:
    """Capsules in a directory (the default) or an S3 bucket (``s3://bucket/prefix``, in a deployment).

    A capsule is complete when its ``capsule.sig`` is there: in a directory a capsule arrives by one
    rename; in a bucket its files are written first and its signature last, and a capsule id that already
    has a signature is never written again. Capsules are read through fsspec; :meth:`path` gives a local
    directory (for a bucket, a verified-on-use copy in the local cache) for verify, replay and diff.
    """

    def __init__(self, location: str | Path, *, storage_options: dict | None = None,
                 cache: str | Path | None = None):
        import fsspec
        from fsspec.implementations.local import LocalFileSystem

        self.url = str(location)
        options = dict(storage_options or {})
        if self.url.startswith("s3://"):  # another publisher may add a capsule at any time: no stale listings
            options = {"use_listings_cache": False, "skip_instance_cache": True, **options}
        self.fs, self.root = fsspec.core.url_to_fs(self.url, **options)
        self.root = self.root.rstrip("/")
        self.local = isinstance(self.fs, LocalFileSystem)
        self.folder = Path(self.root) if self.local else None
        self._cache = Path(cache) if cache else None
        self._shown: dict[str, str] = {}  # summaries read once: a capsule's files never change under its id

    def _key(self, capsule_id: str, name: str = "") -> str:
        return f"{self.root}/{capsule_id}" + (f"/{name}" if name else "")

    def _json(self, capsule_id: str, name: str) -> dict:
        return json.loads(self.fs.cat_file(self._key(capsule_id, name)))

    def exists(self, capsule_id: str) -> bool:
        return bool(CAPSULE_ID.match(capsule_id)) and self.fs.exists(self._key(capsule_id, SIGNATURE))

    def path(self, capsule_id: str) -> Path:
        """A local directory holding the capsule (a bucket's capsule is copied to the local cache once)."""
        if not isinstance(capsule_id, str) or not CAPSULE_ID.match(capsule_id) or not self.exists(capsule_id):
            raise UnknownAnalysis(f"no published analysis {str(capsule_id)[:64]!r}")
        if self.local:
            return Path(self._key(capsule_id))

        target = (self._cache or data_dir() / "capsule-cache") / capsule_id
        if not (target / SIGNATURE).exists():
            partial = target.with_name(f".{capsule_id}.{uuid.uuid4().hex}")
            self.fs.get(self._key(capsule_id) + "/", str(partial), recursive=True)
            if target.exists():  # copied meanwhile by another process
                shutil.rmtree(partial)
            else:
                partial.rename(target)
        return target

    def staging(self) -> Path:
        """Where a capsule is put together before :meth:`add`: inside the store's directory (one rename
        away), or the local temporary directory for a bucket."""
        if self.local:
            Path(self.root).mkdir(parents=True, exist_ok=True)
            return Path(self.root)
        return Path(tempfile.gettempdir())

    def add(self, folder: Path, capsule_id: str) -> bool:
        """Move a signed capsule in; False (nothing written) when the store already holds ``capsule_id``."""
        if self.exists(capsule_id):
            return False
        if self.local:
            try:
                folder.rename(self._key(capsule_id))
            except OSError:  # published meanwhile by another process: theirs stays
                return False
            return True
        files = signed_paths(folder)
        for item in files + [folder / SIGNATURE]:  # the signature last: a capsule is complete with it
            self.fs.put_file(str(item), self._key(capsule_id, item.relative_to(folder).as_posix()))
        return True

    def key_of(self, capsule_id: str) -> str:
        """The id of the key that signed a stored capsule."""
        return self._json(capsule_id, SIGNATURE)["verificationMaterial"]["publicKey"]["hint"]

    def _ids(self) -> list[str]:
        if not self.fs.exists(self.root):
            return []
        if self.local:  # a scan of one folder, not a glob through fsspec
            with os.scandir(self.root) as entries:
                return sorted(e.name for e in entries if CAPSULE_ID.match(e.name)
                              and os.path.isfile(os.path.join(e.path, SIGNATURE)))
        found = self.fs.glob(f"{self.root}/*/{SIGNATURE}")
        return sorted(i for i in (f.rstrip("/").split("/")[-2] for f in found) if CAPSULE_ID.match(i))

    def show(self, capsule_id: str) -> dict:
        if not isinstance(capsule_id, str) or not self.exists(capsule_id):
            raise UnknownAnalysis(f"no published analysis {str(capsule_id)[:64]!r}")
        return self._show(capsule_id)

    def _show(self, capsule_id: str) -> dict:
        """:meth:`show` of a capsule known to be complete (listed by :meth:`_ids`), read once per store: its id
        is the digest of its signed files, so what it says never changes (a changed file no longer verifies)."""
        if capsule_id not in self._shown:
            self._shown[capsule_id] = json.dumps(self._read_summary(capsule_id))
        return json.loads(self._shown[capsule_id])  # a fresh copy for each caller

    def _read_summary(self, capsule_id: str) -> dict:
        crate, manifest = self._json(capsule_id, CRATE), self._json(capsule_id, MANIFEST)
        entities = _entities(crate)
        root = entities["./"]
        run = next(e for e in crate["@graph"] if e.get("@type") == "CreateAction")
        parent = (root.get("isBasedOn") or {}).get("@id", "").removeprefix("capsule:") or None
        return {"id": capsule_id, "title": root["name"], "published": root["datePublished"],
                "owner": entities["#agent"]["name"], "orcid": entities["#agent"].get("identifier"),
                "parent": parent, "site": manifest["site"],
                "inputs": manifest.get("inputs", []), "parameters": manifest.get("parameters", {}),
                "model": manifest.get("model"), "funding": manifest.get("funding", []),
                "affiliations": manifest.get("affiliations", []),
                "su": float(entities["#env-service_units"]["value"]) if "#env-service_units" in entities else None,
                "slurm_job_id": (entities.get("#env-slurm_job_id") or {}).get("value"),
                "opened": [{"id": e["name"], "version": e["version"], "sha256": e["sha256"]} for e in crate["@graph"]
                           if e.get("@type") == "Dataset" and e.get("description", "").startswith("opened")],
                "outputs": [{"name": r["@id"].removeprefix("outputs/"), "sha256": entities[r["@id"]]["sha256"]}
                            for r in run.get("result", [])],
                "started": run.get("startTime"), "ended": run.get("endTime"),
                "status": "failed" if "Failed" in run.get("actionStatus", {}).get("@id", "") else "completed",
                **({"error": run["error"]} if run.get("error") else {})}

    def list(self) -> list[dict]:
        return sorted((self._show(i) for i in self._ids()), key=lambda a: a["published"] or "", reverse=True)

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
        crate = self._json(capsule_id, CRATE)
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
        run_id, checked = notebook_in_capsule(path, keyring=keyring)
        return checked or self.match_notebook(run_id, sha256_file(Path(path)))

    def match_notebook(self, run_id: str, sha256: str) -> dict:
        """:meth:`check_notebook` of a copy: the capsule of the run ``run_id``, and whether ``sha256`` is its notebook's."""
        for capsule_id in self._ids():
            published = self._json(capsule_id, CRATE)
            if not any(e.get("@id") == run_id for e in published["@graph"]):
                continue
            signed = signed_files(self._json(capsule_id, SIGNATURE))
            if sha256 == signed.get(NOTEBOOK):
                return {"capsule_id": capsule_id, "status": "verified",
                        "message": "the same bytes as the published notebook of this capsule"}
            return {"capsule_id": capsule_id, "status": "modified",
                    "message": "modified since publication (its bytes differ from the signed notebook)"}
        return dict(UNKNOWN_NOTEBOOK)

    def lineage(self, capsule_id: str) -> list[str]:
        """What ``capsule_id`` derives from, nearest first: its parent capsules (``capsule:<id>``, replays' and
        forks' parents up the chain) and the dataset versions each of them read (``<id>@<version>``)."""
        found, todo = [], [capsule_id]
        while todo:
            current = todo.pop(0)
            if not self.exists(current):
                continue
            analysis = self._show(current)
            for pin in analysis["inputs"] + analysis["opened"]:
                if f"{pin['id']}@{pin['version']}" not in found:
                    found.append(f"{pin['id']}@{pin['version']}")
            parent = analysis["parent"]
            if parent and f"capsule:{parent}" not in found and parent != capsule_id:
                found.append(f"capsule:{parent}")
                todo.append(parent)
        return found

    def receive(self, archive: bytes, *, keyring, user: str) -> dict:
        """Take in a signed capsule sent as a tar archive (:mod:`~jupyter_vlass.jobs.archive`) by ``user``: it must verify with
        ``keyring`` (every file as signed, by a key of the site) and name ``user`` as its run's agent.
        ``{capsule_id, key_id, new}``; nothing is kept of a refused one."""
        from ..jobs.archive import unpack

        incoming = self.staging() / f".received-{uuid.uuid4().hex}"
        try:
            unpack(archive, incoming)
            checked = verify(incoming, keyring=keyring)
            agents = [e.get("name") for e in json.loads((incoming / CRATE).read_text())["@graph"]
                      if e.get("@id") == "#agent"]
            if agents != [user]:
                raise Forbidden(f"a capsule is published only by its own author: it names "
                                f"{', '.join(map(str, agents)) or 'nobody'}, you are {user}")
            new = self.add(incoming, checked["capsule_id"])
            return {"capsule_id": checked["capsule_id"], "key_id": checked["key_id"], "new": new}
        finally:
            shutil.rmtree(incoming, ignore_errors=True)


def notebook_in_capsule(path: Path, *, keyring) -> tuple[str, dict | None]:
    """The run a published notebook records, and its check when it lies in its capsule's own folder (the
    whole capsule verified); None for a copy elsewhere."""
    try:
        document = json.loads(Path(path).read_text())
        crate = document["metadata"]["jupyter_vlass"]["ro-crate"]
        run_id = next(e["@id"] for e in crate["@graph"] if e.get("@type") == "CreateAction")
    except (OSError, ValueError, KeyError, TypeError, StopIteration):
        raise UnknownAnalysis(f"{Path(path).name} is not the notebook of a published analysis") from None
    folder = Path(path).parent
    if not ((folder / SIGNATURE).exists() and Path(path).name == NOTEBOOK):
        return run_id, None
    try:
        checked = verify(folder, keyring=keyring)
    except CapsuleChanged as error:
        return run_id, {"capsule_id": folder.name, "status": "modified", "message": error.message}
    return run_id, {"capsule_id": checked["capsule_id"], "status": "verified",
                    "message": f"verified: {checked['files']} files signed by key {checked['key_id'][:16]}"}
