"""The hub-wide result cache, held by the hub service: one user's computed result answers the same analysis
for every user who may read its inputs.

When the service authorizes a job it computes the job's result key itself (:func:`claimed_key`): from the
sha256 its own registry holds for each dataset version the job reads, and the notebook digest, parameters,
container image, package and model the user's server names. When the job has ended ``done``, that server
offers its outputs (:meth:`HubResults.offer`); the service takes them only for the caller's own authorized
job, under the key it computed, as exactly the files recorded at the job's end with those sha256. It keeps
its own read-only copy in a folder only its account reads, and answers a lookup only to a caller whose
groups may read every dataset version the job read. What it holds is what the producing run reported: a
replay is always computed again (a published result is checked by recomputation), and a manifest's
``recompute`` bypasses the cache.
"""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

from sqlalchemy import select

from ..exceptions import Conflict, InvalidArgument, NotFound, UnknownDataset
from ..store import CacheEntryRow, JobRecordRow
from .archive import pack, unpack
from .cache import ResultCache, describe_files
from .manifest import DEFAULT_RETENTION_DAYS, result_key
from .outputs import file_stat, sha256_of

SITE = "hub"  # the site name of the service's copies, and of a user's server's copy of one
KEY = re.compile(r"^[0-9a-f]{64}$")


class UnknownResult(NotFound):
    reason = "unknown_result"


class ResultRefused(Conflict):
    reason = "result_refused"


def checked_key(key: object) -> str:
    if not isinstance(key, str) or not KEY.match(key):
        raise UnknownResult(f"no cached result {str(key)[:64]!r}")
    return key


def _claims(claims: object) -> dict:
    if not isinstance(claims, Mapping):
        raise InvalidArgument("key: an object of notebook_sha256, image, package and model")
    notebook, image, package, model = (claims.get(k) for k in ("notebook_sha256", "image", "package", "model"))
    if not isinstance(notebook, str) or not KEY.match(notebook):
        raise InvalidArgument("key.notebook_sha256: a sha256 of 64 hex digits")
    if image is not None and not (isinstance(image, str) and 0 < len(image) <= 200):
        raise InvalidArgument("key.image: the image's digest, or null")
    if not isinstance(package, str) or not 0 < len(package) <= 64:
        raise InvalidArgument("key.package: the package version the job runs")
    if model is not None and not (isinstance(model, Mapping) and len(model) <= 10 and
                                  all(isinstance(v, str) and len(v) <= 512 for v in model.values())):
        raise InvalidArgument("key.model: an object of the model's name, version, repository, commit, weights")
    return {"notebook_sha256": notebook, "image": image, "package": package, "model": dict(model) if model else None}


def claimed_key(body: Mapping, view) -> str | None:
    """The result key of the job ``body`` describes (its ``inputs``, ``parameters`` and ``key`` claims), with
    each input's bytes as ``view`` (the registry as the caller sees it) holds them; None when the server names
    no claims or the service holds no registry or an input the caller may not read (nothing is then cached)."""
    if body.get("key") is None or view is None:
        return None
    claims = _claims(body["key"])
    digests = []
    for pair in body.get("inputs") or []:
        try:
            record = view.get(pair[0], pair[1])
        except (UnknownDataset, TypeError, IndexError, KeyError):
            return None
        digests.append(record.sha256 or record.uri)
    parameters = body.get("parameters") or {}
    return result_key(digests, parameters=parameters if isinstance(parameters, Mapping) else {}, **claims)


class HubResults:
    """The service's copies of results under ``folder`` (the service's alone), indexed in its database."""

    def __init__(self, sessions, folder: str | Path):
        self._sessions, self.folder = sessions, Path(folder)
        self.cache = ResultCache(sessions)

    def offer(self, *, user: str, job_id: str, key: str, data: bytes) -> dict:
        """Take ``user``'s result ``key`` of their job ``job_id`` as the tar ``data``: ``{"key", "new"}``
        (False when the hub held it already). :class:`ResultRefused` for anything but the job's recorded outputs."""
        key = checked_key(key)
        with self._sessions() as session:
            row = session.get(JobRecordRow, (user, job_id)) if isinstance(job_id, str) else None
        if row is None or not row.authorized:
            raise ResultRefused(f"no job {str(job_id)[:40]!r} of yours that the hub service authorized")
        if row.state != "done" or row.result_key != key:
            raise ResultRefused(f"job {job_id} " + ("has not ended done" if row.state != "done" else
                                                    "was authorized under another result key"))
        if self.cache.lookup(key, site=SITE, use=False) is not None:
            return {"key": key, "new": False}
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        partial, target = self.folder / f".{key}.{uuid.uuid4().hex}", self.folder / key
        try:
            names = unpack(data, partial)
            if set(names) != set(row.outputs or {}):
                raise ResultRefused(f"the archive holds {len(names)} files, not the {len(row.outputs or {})} outputs "
                                    f"recorded when job {job_id} ended")
            for name in names:
                if sha256_of(partial, name) != row.outputs[name]:
                    raise ResultRefused(f"{name[:80]!r} is not the sha256 recorded when job {job_id} ended")
            files = describe_files(partial, [{"name": n, "sha256": row.outputs[n], "size": file_stat(partial, n).st_size}
                                             for n in names])
            if target.exists():  # a copy no intact entry names (an earlier offer cut short): replaced
                shutil.rmtree(target)
            try:
                partial.rename(target)
            except OSError:  # another service process placed it a moment ago
                return {"key": key, "new": False}
        finally:
            shutil.rmtree(partial, ignore_errors=True)
        self.cache.add(key, site=SITE, location=target, files=files, inputs=row.inputs, job_id=job_id,
                       retention_days=DEFAULT_RETENTION_DAYS)
        return {"key": key, "new": True}

    def show(self, key: str, *, may_read: Callable[[list], bool]) -> dict:
        """The result ``key`` (its files and the job that computed it) when ``may_read(inputs)``; else
        :class:`UnknownResult`, as for one the hub does not hold."""
        entry = self.cache.lookup(checked_key(key), site=SITE)
        if entry is None or not may_read(entry.inputs):
            raise UnknownResult(f"no cached result {key[:16]} that you may read")
        with self._sessions() as session:
            user = session.scalar(select(JobRecordRow.user).where(JobRecordRow.job_id == entry.job_id,
                                                                  JobRecordRow.result_key == entry.key))
        return {"key": entry.key, "job_id": entry.job_id, "user": user, "inputs": entry.inputs,
                "files": [{k: f[k] for k in ("name", "sha256", "size")} for f in entry.files]}

    def archive(self, key: str, *, may_read: Callable[[list], bool]) -> bytes:
        """The result's files as a tar (what :meth:`show` lists)."""
        self.show(key, may_read=may_read)
        return pack(self.folder / key)

    def remove(self, key: str) -> bool:
        """Drop the hub's copy of ``key`` (an admin's decision): False when it held none."""
        key = checked_key(key)
        with self._sessions.begin() as session:
            row = session.get(CacheEntryRow, (key, SITE))
            if row is not None:
                session.delete(row)
        shutil.rmtree(self.folder / key, ignore_errors=True)
        return row is not None
