"""Job manifests: the versioned JSON Schema shipped in the package, the canonical digest that makes a
submission idempotent, and the key of everything that determines a job's result (the cache key).

>>> m = JobManifest.from_json({"manifest_version": 1, "site": "local",
...     "notebook": {"path": "analysis.ipynb", "sha256": "0" * 64}})
>>> len(m.digest)
64
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache

from ..exceptions import InvalidArgument, InvalidManifest

SCHEMA_VERSION = 1
DEFAULT_RETENTION_DAYS = 30


@cache
def schema() -> dict:
    """The manifest's JSON Schema (``jupyter_vlass/jobs/schemas/job-manifest.v1.json``)."""
    text = importlib.resources.files(__package__).joinpath(f"schemas/job-manifest.v{SCHEMA_VERSION}.json").read_text()
    return json.loads(text)


def canonical(doc: object) -> bytes:
    """One byte string per JSON value: sorted keys, no spaces, UTF-8."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


@dataclass(frozen=True)
class DatasetPin:
    id: str
    version: str
    sha256: str | None = None


@dataclass(frozen=True)
class ModelRef:
    name: str
    version: str
    repository: str | None = None
    commit: str | None = None
    weights_sha256: str | None = None


@dataclass(frozen=True)
class JobManifest:
    notebook_path: str
    notebook_sha256: str
    site: str
    parameters: Mapping[str, object] = field(default_factory=dict)
    inputs: tuple[DatasetPin, ...] = ()
    model: ModelRef | None = None
    output_path: str | None = None
    retention_days: int = DEFAULT_RETENTION_DAYS
    profile: str | None = None
    resources: Mapping[str, object] = field(default_factory=dict)
    dask: Mapping[str, object] | None = None
    replay_of: str | None = None  # the parent capsule: the job is computed again, not taken from the cache
    recompute: bool = False  # computed again even when the cache holds it (runs compared across sites)
    funding: tuple[Mapping[str, str], ...] = ()  # the grants it is done under (not what determines the result)
    affiliations: tuple[Mapping[str, str], ...] = ()  # the author's organizations, by ROR id (nor this)

    @classmethod
    def from_json(cls, doc: object) -> JobManifest:
        """Validate against the schema; the error names the JSON path of the first problem."""
        import jsonschema

        validator = jsonschema.Draft202012Validator(schema())
        error = jsonschema.exceptions.best_match(validator.iter_errors(doc))
        if error is not None:
            raise InvalidManifest(f"manifest {error.json_path}: {error.message[:300]}")
        output = doc.get("output", {})
        model = doc.get("model")
        manifest = cls(
            notebook_path=doc["notebook"]["path"], notebook_sha256=doc["notebook"]["sha256"], site=doc["site"],
            parameters=dict(doc.get("parameters", {})),
            inputs=tuple(DatasetPin(i["id"], i["version"], i.get("sha256")) for i in doc.get("inputs", [])),
            model=ModelRef(**model) if model else None, output_path=output.get("path"),
            retention_days=output.get("retention_days", DEFAULT_RETENTION_DAYS), profile=doc.get("profile"),
            resources=dict(doc.get("resources", {})), dask=dict(doc["dask"]) if doc.get("dask") else None,
            replay_of=doc.get("replay_of"), recompute=bool(doc.get("recompute", False)),
            funding=tuple(dict(f) for f in doc.get("funding", [])),
            affiliations=tuple(dict(a) for a in doc.get("affiliations", [])))
        user_path(manifest.notebook_path, "$.notebook.path")
        if manifest.output_path is not None:
            user_path(manifest.output_path, "$.output.path")
        if len({(p.id, p.version) for p in manifest.inputs}) != len(manifest.inputs):
            raise InvalidManifest("manifest $.inputs: the same dataset version is listed twice")
        return manifest

    def to_json(self) -> dict:
        doc: dict = {"manifest_version": SCHEMA_VERSION, "site": self.site,
                     "notebook": {"path": self.notebook_path, "sha256": self.notebook_sha256},
                     "parameters": dict(self.parameters),
                     "inputs": [{k: v for k, v in vars(p).items() if v is not None} for p in self.inputs],
                     "output": {"retention_days": self.retention_days}}
        if self.output_path is not None:
            doc["output"]["path"] = self.output_path
        if self.model is not None:
            doc["model"] = {k: v for k, v in vars(self.model).items() if v is not None}
        if self.profile is not None:
            doc["profile"] = self.profile
        if self.resources:
            doc["resources"] = dict(self.resources)
        if self.dask:
            doc["dask"] = dict(self.dask)
        if self.replay_of:
            doc["replay_of"] = self.replay_of
        if self.recompute:
            doc["recompute"] = True
        if self.funding:
            doc["funding"] = [dict(f) for f in self.funding]
        if self.affiliations:
            doc["affiliations"] = [dict(a) for a in self.affiliations]
        return doc

    @property
    def digest(self) -> str:
        """The job's identity: the same manifest submitted twice is one job."""
        return hashlib.sha256(canonical(self.to_json())).hexdigest()

    def result_key(self, input_sha256: list[str], *, image_digest: str | None, package_version: str) -> str:
        """Everything that determines the result, and nothing that does not (site, resources, output)."""
        return result_key(input_sha256, **self.key_claims(image_digest=image_digest, package_version=package_version))

    def key_claims(self, *, image_digest: str | None, package_version: str) -> dict:
        """What determines the result besides the inputs' bytes: :func:`result_key`'s keywords (the hub service
        computes the key from these and the inputs' sha256 in its own registry)."""
        return {"notebook_sha256": self.notebook_sha256, "parameters": dict(self.parameters), "image": image_digest,
                "package": package_version,
                "model": {k: v for k, v in vars(self.model).items() if v is not None} if self.model else None}


def result_key(input_sha256: list[str], *, notebook_sha256: str, parameters: Mapping, image: str | None,
               package: str, model: Mapping | None) -> str:
    """The cache key of a result: the sha256 of everything that determines it, canonically encoded."""
    determining = {"inputs": sorted(input_sha256), "notebook": notebook_sha256, "parameters": dict(parameters),
                   "image": image, "package": package, "model": dict(model) if model else None}
    return hashlib.sha256(canonical(determining)).hexdigest()


def check_grant(doc: object) -> dict:
    """``doc`` when it is one grant as a manifest's ``funding`` lists them (funder, award, ROR id, title)."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema()["properties"]["funding"]["items"])
    error = jsonschema.exceptions.best_match(validator.iter_errors(doc))
    if error is not None:
        raise InvalidArgument(f"grant {error.json_path}: {error.message[:300]}")
    return dict(doc)


def user_path(path: str, where: str) -> str:
    """A path inside the user's area: relative, no ``..``, no control characters."""
    if path.startswith(("/", "~")) or "\\" in path or any(ord(c) < 32 for c in path):
        raise InvalidManifest(f"manifest {where}: {path[:80]!r} must be a relative path inside your area")
    parts = posixpath.normpath(path).split("/")
    if ".." in parts or path.split("/").count("..") or parts == ["."]:
        raise InvalidManifest(f"manifest {where}: {path[:80]!r} leaves your area")
    return posixpath.normpath(path)
