"""Run an analysis notebook from Python: ``submit(...)`` returns a :class:`~jupyter_vlass.jobs.jobs.Job`.

>>> from jupyter_vlass.analysis import submit
>>> job = submit("analysis-rms-catalogue.ipynb", inputs=["vlass:VLASS2.2.ql.T08t20.J135700-180000@v1"],
...              parameters={"threshold": 5.0}, site="local")                     # doctest: +SKIP
>>> job.wait().result()["catalogue.ecsv"]                                         # doctest: +SKIP

Sites, profiles and the jobs directory come from ``$JUPYTER_VLASS_JOBS_CONFIG`` (see ``jupyter-vlass jobs``),
else the local site only. Inputs are ``id@version`` (or a :class:`~jupyter_vlass.federation.Hit` or
record); each is resolved, pinned by sha256 and checked through the registry as you may see it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from .exceptions import InvalidManifest
from .jobs.config import open_jobs
from .jobs.staging import sha256_file


def jobs(*, root: str | os.PathLike = ".", db: str | None = None, config: str | None = None):
    """Your jobs (:class:`~jupyter_vlass.jobs.jobs.Jobs`) with the configured sites."""
    return open_jobs(config=config, db=db, root=str(root))


def manifest_for(notebook: str, *, root: Path, registry, parameters: Mapping | None = None, inputs: Iterable = (),
                 site: str = "local", profile: str | None = None, resources: Mapping | None = None,
                 output: str | None = None, retention_days: int | None = None, funding: Iterable[Mapping] = (),
                 affiliations: Iterable[Mapping] = ()) -> dict:
    """A job manifest (version 1) for ``notebook`` (relative to ``root``), its inputs pinned by sha256."""
    path = root / notebook
    if not path.is_file():
        raise InvalidManifest(f"manifest $.notebook.path: no notebook {notebook!r} in {root}")
    pins = []
    for item in inputs:
        dataset_id, version = _pin(item)
        record = registry.get(dataset_id, version)
        pins.append({"id": record.dataset_id, "version": record.version, "sha256": record.sha256})
    doc = {"manifest_version": 1, "site": site, "notebook": {"path": notebook, "sha256": sha256_file(path)},
           "parameters": dict(parameters or {}), "inputs": [{k: v for k, v in p.items() if v} for p in pins]}
    if output or retention_days:
        doc["output"] = {k: v for k, v in (("path", output), ("retention_days", retention_days)) if v}
    if profile:
        doc["profile"] = profile
    if resources:
        doc["resources"] = {k: v for k, v in resources.items()}
    if funding:
        doc["funding"] = [dict(f) for f in funding]
    if affiliations:
        doc["affiliations"] = [dict(a) for a in affiliations]
    return doc


def _pin(item) -> tuple[str, str | None]:
    if isinstance(item, str):
        dataset_id, _, version = item.rpartition("@") if "@" in item else (item, "", "")
        return dataset_id, version or None
    dataset_id = getattr(item, "dataset_id", None)
    if not isinstance(dataset_id, str):
        raise InvalidManifest(f"manifest $.inputs: {item!r} is not 'id@version', a search hit or a record")
    return dataset_id, getattr(item, "version", None)


def submit(notebook: str, *, parameters: Mapping | None = None, inputs: Iterable = (), site: str = "local",
           profile: str | None = None, resources: Mapping | None = None, output: str | None = None,
           root: str | os.PathLike = ".", db: str | None = None, config: str | None = None,
           funding: Iterable[Mapping] = (), affiliations: Iterable[Mapping] = ()):
    """Submit ``notebook`` (a path under ``root``) as a job; the same request twice is the same job.
    ``funding``: the grants it is done under, ``{"funder", "award", "funder_id" (ROR), "title"}`` each;
    ``affiliations``: the author's organizations, ``{"name", "ror"}`` each (both recorded in the capsule)."""
    service = jobs(root=root, db=db, config=config)
    doc = manifest_for(notebook, root=Path(root).resolve(), registry=service.registry, parameters=parameters,
                       inputs=inputs, site=site, profile=profile, resources=resources, output=output,
                       funding=funding, affiliations=affiliations)
    return service.submit(doc)


__all__ = ["jobs", "manifest_for", "submit"]
