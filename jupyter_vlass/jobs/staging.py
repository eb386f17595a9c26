"""Inputs copied to a site's scratch directory, content-addressed and verified by sha256.

A copy that is already there with the same bytes is not copied again; a copy is written to ``.part``
and renamed only once its digest matches, so an interrupted transfer never leaves a wrong file behind, and
the next staging of the same version goes on from where the ``.part`` ends.
An S3 scratch is :mod:`.s3scratch`; both answer :class:`Staged`.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ..exceptions import CorruptData

CHUNK = 8 << 20
Progress = Callable[[int, int | None], None]  # bytes so far, total (None when unknown)


@dataclass(frozen=True)
class Staged:
    """Where a staged input lies (a path or an ``s3://`` URI), bytes sent this time and bytes reused."""

    location: str
    sent: int = 0
    reused: int = 0


def staged_name(sha256: str, uri: str) -> str:
    base = re.sub(r"[^A-Za-z0-9_.-]", "_", posixpath.basename(uri.rstrip("/")))[-80:] or "data"
    return f"{sha256}-{base}"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def stage(registry, record, scratch: Path, *, progress: Progress | None = None) -> Path:
    """The dataset version's bytes under ``scratch``, verified against ``record.sha256``."""
    scratch.mkdir(parents=True, exist_ok=True)
    scratch.chmod(0o700)  # staged bytes of a restricted dataset are for their user alone
    target = scratch / staged_name(record.sha256 or hashlib.sha256(record.uri.encode()).hexdigest(), record.uri)
    if target.exists() and (record.sha256 is None or sha256_file(target) == record.sha256):
        if progress:
            progress(target.stat().st_size, target.stat().st_size)
        return target
    part = target.with_name(target.name + ".part")
    digest, done = hashlib.sha256(), 0
    # An interrupted copy resumes after the bytes already in .part (hashed again from the local file, the
    # source read from there on); the whole is checked against the version's sha256 at the end.
    if part.exists() and record.size and part.stat().st_size < record.size:
        with open(part, "rb") as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
                done += len(chunk)
    else:
        part.unlink(missing_ok=True)
    # Each chunk is hashed in a second thread while it is written (both release the GIL): the copy costs
    # about the slower of the two instead of their sum, and what is hashed is exactly what is written.
    with registry.open(record) as src, open(part, "ab") as dst, ThreadPoolExecutor(1) as hasher:
        if done:
            try:
                src.seek(done)
            except (OSError, ValueError):  # a stream that cannot seek: start over
                dst.truncate(0)
                digest, done = hashlib.sha256(), 0
        while chunk := src.read(CHUNK):
            hashing = hasher.submit(digest.update, chunk)
            dst.write(chunk)
            hashing.result()
            done += len(chunk)
            if progress:
                progress(done, record.size)
    if record.sha256 and digest.hexdigest() != record.sha256:
        part.unlink()
        raise CorruptData(f"{record.dataset_id}@{record.version}: the bytes read do not match its sha256; "
                          "nothing was staged")
    os.chmod(part, 0o600)
    os.replace(part, target)
    return target


class PosixScratch:
    """Staged inputs as files in ``path`` (a directory the site's nodes see)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    @property
    def uri(self) -> str:
        return str(self.path)

    def stage(self, registry, record, *, progress: Progress | None = None) -> Staged:
        target = stage(registry, record, self.path, progress=progress)
        return Staged(str(target), sent=target.stat().st_size)

    def clean(self, *, quota_bytes: int, keep: set[str] = frozenset()) -> list[str]:
        """Remove the least recently used staged files (never those in ``keep``) until the scratch fits
        ``quota_bytes``; returns the paths removed."""
        try:
            files = sorted((p for p in self.path.iterdir() if p.is_file()), key=lambda p: p.stat().st_atime)
        except FileNotFoundError:
            return []
        total = sum(p.stat().st_size for p in files)
        removed = []
        for path in files:
            if total <= quota_bytes:
                break
            if str(path) in keep:
                continue
            total -= path.stat().st_size
            path.unlink(missing_ok=True)
            removed.append(str(path))
        return removed
