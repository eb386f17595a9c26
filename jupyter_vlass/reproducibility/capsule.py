"""Run capsules: a done analysis job published as an immutable, signed directory identified by its content
(its files: :mod:`.layout`; checking one: :mod:`.verify`).

Publishing the same run twice is the same capsule and never overwrites it. Anyone can check a capsule
with the third-party ``model_signing verify key <dir> --public_key <pem> --signature <dir>/capsule.sig``;
:func:`~.verify.verify` also names what changed, refuses keys the site does not know and capsules with
files missing, added or renamed.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..exceptions import CorruptData, InvalidArgument, SchedulerUnavailable, VlassError
from ..hub_client import ORCID_ENV
from ..patterns import orcid_url
from .crate import build, is_detection_analysis
from .keys import Keyring, UnknownKey
from .layout import (CRATE, MANIFEST, NOTEBOOK, SIGNATURE, SOURCE, CapsuleChanged, capsule_id_of, read_bundle,
                     signed_files)
from .signing import KeyringSigner
from .store import CapsuleStore
from .verify import verify


@dataclass(frozen=True)
class Capsule:
    capsule_id: str
    path: Path
    key_id: str
    new: bool  # False: the same run was already published (nothing was written)
    status: str = "completed"  # or "failed": the run failed, and the capsule says so

    def to_json(self) -> dict:
        return {"capsule_id": self.capsule_id, "path": str(self.path), "key_id": self.key_id, "new": self.new,
                "status": self.status}


def run_record(job) -> dict:
    """What the crate says of a done job (a :class:`~jupyter_vlass.jobs.jobs.Job`)."""
    status = job.status()
    if status["state"] not in ("done", "failed"):
        raise InvalidArgument(f"job {job.id} is {status['state']}: only an ended job is published "
                              "(a failed one as a failed run)")
    if status["cached_from"]:
        raise InvalidArgument(f"job {job.id} was answered from the cache: publish the job that computed it")
    registry = job.jobs.registry
    inputs = []
    for pin in status["inputs"]:
        record = registry.get(pin["id"], pin["version"])
        inputs.append({"id": pin["id"], "version": pin["version"], "uri": record.uri, "sha256": record.sha256,
                       "how": "pinned"})
    pinned = {(i["id"], i["version"]) for i in inputs}
    inputs += [{**o, "how": "opened"} for o in (status["result"] or {}).get("opened") or []
               if (o["id"], o["version"]) not in pinned]  # read by the notebook through a Registry
    site = job.jobs.sites.get(status["site"])
    result, manifest = status["result"] or {}, job.jobs.row(job.id).manifest or {}
    accounting = _slurm_accounting(site, status)
    try:
        image = job.jobs.image_of(job.id)
    except (VlassError, KeyError):  # the site or profile is no longer configured here
        image = None
    return {"title": f"{status['notebook']} ({', '.join(f'{k}={v}' for k, v in sorted(status['parameters'].items()))})",
            "owner": status["owner"], "site": status["site"], "site_kind": site.kind if site else "local",
            "site_job_id": status["site_job_id"], "su": status.get("su"), "host": result.get("host"), "gpus": result.get("gpus"),
            "gpu_type": result.get("gpu_type") or (accounting or {}).get("gpu_type"), "accounting": accounting,
            "image": image,
            "started": status["started_at"], "ended": status["ended_at"], "parameters": status["parameters"],
            "inputs": inputs, "outputs": result.get("files") or [], "job_id": job.id,
            "result_key": status["result_key"], "location": result.get("location"),
            "error": (status.get("reason") or "failed") if status["state"] == "failed" else None, "software": result.get("software") or {},
            "manifest": manifest, "model": manifest.get("model"), "parent": manifest.get("replay_of"),
            "orcid": orcid_url(os.environ.get(ORCID_ENV))}  # the login's, set by the hub's spawner


def _slurm_accounting(site, status: dict) -> dict | None:
    """Slurm's accounting record (sacct) of a job that ran on a Slurm site; None elsewhere or when unknown."""
    if site is None or site.kind != "slurm" or not status["site_job_id"]:
        return None
    since = datetime.fromisoformat((status["started_at"] or status["created_at"]).rstrip("Z"))
    try:
        return site.accounting(status["site_job_id"], since=since)
    except SchedulerUnavailable:
        return None


def _cited(notebook: dict, crate: dict, run: dict) -> dict:
    """The executed notebook with the crate in its metadata and its data cited in a first cell."""
    import nbformat

    lines = ["**Data** (as read by this run; cite these versions):", ""]
    lines += [f"- `{i['id']}` version `{i['version']}`, sha256 `{i['sha256']}` ({i['uri']})"
              + (" (opened by the notebook)" if i.get("how") == "opened" else "") for i in run["inputs"]]
    if not run["inputs"]:
        lines.append("- no dataset")
    if run["error"]:
        lines = [f"**This run failed** and is published as a failed run: {run['error']}", "", *lines]
    cell = nbformat.v4.new_markdown_cell("\n".join(lines))
    cell["id"] = "vlass-data-citation"
    notebook = dict(notebook, cells=[cell, *notebook["cells"]])
    notebook["metadata"] = {**notebook.get("metadata", {}), "jupyter_vlass": {"ro-crate": crate}}
    return notebook


def gated_inputs(run: dict) -> list[tuple[str, str]]:
    """The dataset versions whose consensus the gate judges before ``run`` (a :func:`run_record`) is published:
    every input of a completed detection analysis, pinned or opened by the notebook itself."""
    if run["error"] or not is_detection_analysis(run["outputs"], model=run.get("model"), parameters=run["parameters"]):
        return []
    return sorted({(i["id"], i["version"]) for i in run["inputs"]})


def check_gate(run: dict, gate) -> list:
    """The publish gate's decisions for a detection analysis (see :func:`gated_inputs`): one per input, each the
    consensus of that dataset version. Raises :class:`~jupyter_vlass.review.review.PublishRefused` with the
    reasons; nothing is written."""
    if gate is None:
        return []
    return [gate.check(dataset_id, version) for dataset_id, version in gated_inputs(run)]


def gate_preview(job, gate) -> list[dict]:
    """What the publish gate would say of ``job`` now, without publishing: one decision per gated input (none
    for an analysis that is not a detection analysis), each with its explanation."""
    return [{**decision.to_json(), "explanation": decision.explain()}
            for decision in (gate.gate(dataset_id, version) for dataset_id, version in gated_inputs(run_record(job)))]


def publish(job, *, store, keyring: Keyring | None = None, signer=None, gate=None) -> Capsule:
    """Publish an ended job as a capsule in ``store`` (a directory, or a
    :class:`~jupyter_vlass.reproducibility.store.CapsuleStore` of a directory or bucket), signed by ``signer`` (a
    :mod:`~jupyter_vlass.reproducibility.signing` signer), else with the keyring's current key.

    A failed job becomes a capsule of a failed run (``status`` "failed", the error in its crate and at the
    top of its notebook): a record, never a success. A detection analysis passes ``gate`` first (a
    :class:`~jupyter_vlass.review.review.Review`; see :func:`check_gate`)."""
    signer = signer or KeyringSigner(keyring)
    run = run_record(job)
    check_gate(run, gate)
    executed = job.executed_notebook()
    if executed is None:
        raise InvalidArgument(f"job {job.id} has no executed notebook left to publish")
    store = CapsuleStore(store) if isinstance(store, (str, Path)) else store  # or the hub's
    incoming = store.staging() / f".incoming-{uuid.uuid4().hex}"
    try:
        (incoming / "outputs").mkdir(parents=True)
        for item in run["outputs"]:
            target = incoming / "outputs" / item["name"]
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(Path(run["location"]) / item["name"], target)
        shutil.copyfile(executed.parent / "notebook.ipynb", incoming / SOURCE)
        (incoming / MANIFEST).write_text(json.dumps(run["manifest"], indent=1, sort_keys=True))
        crate = build(run)
        (incoming / CRATE).write_text(json.dumps(crate, indent=1, sort_keys=True))
        notebook = _cited(json.loads(executed.read_text()), crate, run)
        (incoming / NOTEBOOK).write_text(json.dumps(notebook, indent=1, sort_keys=True))
        key_id = signer.sign(incoming, owner=run["owner"])
        status = "failed" if run["error"] else "completed"
        files = signed_files(read_bundle(incoming / SIGNATURE))
        for item in run["outputs"]:
            if files.get(f"outputs/{item['name']}") != item["sha256"]:
                raise CorruptData(f"job {job.id}: outputs/{item['name']} no longer has the sha256 the job recorded")
        capsule_id = capsule_id_of(files)
        if not store.add(incoming, capsule_id):  # content-identified: the same run, already published
            return Capsule(capsule_id, store.path(capsule_id), store.key_of(capsule_id), new=False, status=status)
        return Capsule(capsule_id, store.path(capsule_id), key_id, new=True, status=status)
    finally:
        shutil.rmtree(incoming, ignore_errors=True)


__all__ = ["CRATE", "MANIFEST", "NOTEBOOK", "SIGNATURE", "SOURCE", "Capsule", "CapsuleChanged", "UnknownKey", "publish",
           "verify"]
