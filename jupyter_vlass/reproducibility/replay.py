"""Replay and fork a capsule: every pin resolved and a compatibility report shown before anything runs.

A replay runs the capsule's source notebook with its manifest again, on a site of the same kind (local
to local, Slurm to Slurm), computed again (never answered from the result cache), and the new job names
its parent capsule (``replay_of``), so that its own capsule links back. A fork changes dataset versions
or parameters on the way; a change the report calls breaking (a version no longer there, bytes changed
under the same version, a major version change, a parameter the notebook does not declare) stops it
unless forced.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..exceptions import Conflict, InvalidArgument, UnknownDataset
from ..jobs.notebook_check import declared_parameters
from .layout import CRATE, MANIFEST, SOURCE
from .verify import verify


@dataclass(frozen=True)
class Finding:
    level: str  # ok | info | breaking
    what: str
    message: str


@dataclass
class Compatibility:
    capsule_id: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def breaking(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "breaking"]

    def to_json(self) -> dict:
        return {"capsule_id": self.capsule_id, "compatible": not self.breaking,
                "findings": [vars(f) for f in self.findings]}

    def __str__(self) -> str:
        marks = {"ok": "  ok", "info": "info", "breaking": "BREAKING"}
        return "\n".join(f"{marks[f.level]:>8}  {f.what}: {f.message}" for f in self.findings)


def _major(version: str) -> str:
    match = re.search(r"\d+", version)
    return match.group(0) if match else version


def _site_kind(crate: dict) -> str:
    for entity in crate["@graph"]:
        if entity.get("@id") == "#env-site_kind":
            return entity["value"]
    return "local"


def compatibility(capsule: str | Path, registry, *, datasets: Mapping[str, str] | None = None,
                  parameters: Mapping[str, object] | None = None, capsule_id: str = "") -> tuple[Compatibility, dict]:
    """The report and the manifest a replay or fork would submit. ``datasets``: original id -> ``id@version``."""
    capsule = Path(capsule)
    manifest = json.loads((capsule / MANIFEST).read_text())
    report = Compatibility(capsule_id)
    datasets, parameters = dict(datasets or {}), dict(parameters or {})
    unknown = set(datasets) - {pin["id"] for pin in manifest.get("inputs", [])}
    if unknown:
        raise InvalidArgument(f"dataset: {sorted(unknown)[0]!r} is not an input of this capsule")
    inputs = []
    for pin in manifest.get("inputs", []):
        new_id, _, new_version = datasets.get(pin["id"], f"{pin['id']}@{pin['version']}").rpartition("@")
        what = f"dataset {pin['id']}@{pin['version']}"
        try:
            record = registry.get(new_id, new_version or None)
        except UnknownDataset:
            report.findings.append(Finding("breaking", what, f"{new_id}@{new_version} is no longer available"))
            inputs.append(pin)
            continue
        changed = (new_id, record.version) != (pin["id"], pin["version"])
        if not changed and record.sha256 != pin.get("sha256"):
            report.findings.append(Finding("breaking", what, "its bytes changed under the same version "
                                           f"(sha256 {pin.get('sha256', '')[:12]}... -> {record.sha256[:12]}...)"))
        elif changed and _major(record.version) != _major(pin["version"]):
            report.findings.append(Finding("breaking", what, f"major version change: {pin['version']} -> "
                                           f"{record.version}"))
        elif changed:
            report.findings.append(Finding("info", what, f"forked onto {new_id}@{record.version}"))
        else:
            report.findings.append(Finding("ok", what, "still available, same bytes"))
        newest = registry.versions(new_id)[0]
        if newest.version != record.version:
            report.findings.append(Finding("info", what, f"a newer version exists: {newest.version}"))
        inputs.append({"id": new_id, "version": record.version, "sha256": record.sha256})
    declared = declared_parameters(capsule / SOURCE)
    for name, value in sorted(parameters.items()):
        if name not in declared or name in ("inputs", "dask_scheduler"):
            report.findings.append(Finding("breaking", f"parameter {name}", "the notebook does not declare it"))
        else:
            old = manifest.get("parameters", {}).get(name, declared[name].get("default"))
            report.findings.append(Finding("info", f"parameter {name}", f"{old} -> {value}"))
    manifest = {**manifest, "inputs": inputs, "parameters": {**manifest.get("parameters", {}), **parameters}}
    return report, manifest


def fork_choices(capsule: str | Path, registry) -> dict:
    """What a fork of ``capsule`` may change: each input with its pinned version and the versions ``registry``
    holds (newest first; none when it is gone), and each parameter the notebook declares with the capsule's
    value (JSON), else the notebook's default (its source text)."""
    capsule = Path(capsule)
    manifest = json.loads((capsule / MANIFEST).read_text())
    inputs = []
    for pin in manifest.get("inputs", []):
        try:
            versions = [r.version for r in registry.versions(pin["id"])]
        except UnknownDataset:
            versions = []
        inputs.append({"id": pin["id"], "version": pin["version"], "versions": versions})
    given = manifest.get("parameters", {})
    parameters = {name: json.dumps(given[name]) if name in given else str(spec.get("default"))
                  for name, spec in declared_parameters(capsule / SOURCE).items() if name not in ("inputs", "dask_scheduler")}
    return {"inputs": inputs, "parameters": parameters}


def resubmit(capsule: str | Path, jobs, *, keyring, datasets: Mapping[str, str] | None = None,
             parameters: Mapping[str, object] | None = None, site: str | None = None, force: bool = False):
    """Replay (or, with ``datasets``/``parameters``, fork) a verified capsule as a job of ``jobs``' owner.
    Returns ``(job, report)``; raises :class:`Conflict` with the report when it finds a breaking change."""
    capsule = Path(capsule)
    checked = verify(capsule, keyring=keyring)
    capsule_id = checked["capsule_id"]
    report, manifest = compatibility(capsule, jobs.registry, datasets=datasets, parameters=parameters,
                                     capsule_id=capsule_id)
    kind = _site_kind(json.loads((capsule / CRATE).read_text()))
    candidates = [name for name, s in sorted(jobs.sites.items()) if s.kind == kind]
    if site is None:
        site = manifest["site"] if manifest["site"] in candidates else (candidates[0] if candidates else None)
    if site not in candidates:
        raise InvalidArgument(f"site: the capsule ran on a {kind} site; this replay needs one "
                              f"(sites of that kind here: {', '.join(candidates) or 'none'})")
    if report.breaking and not force:
        error = Conflict(f"not compatible:\n{report}")
        error.report = report
        raise error
    folder = Path("replays") / capsule_id[:16]
    target = jobs.root / folder / Path(manifest["notebook"]["path"]).name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(capsule / SOURCE, target)
    target.parent.chmod(0o755)
    target.chmod(0o644)
    manifest = {**manifest, "site": site, "replay_of": capsule_id,
                "notebook": {**manifest["notebook"], "path": (folder / target.name).as_posix()}}
    manifest.pop("output", None)
    return jobs.submit(manifest), report
