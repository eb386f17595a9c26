"""A job's outputs as the server handles them. The job wrote them, and its status file names them: the
server (root in ``make demo`` and under a hub) trusts neither. A name is a plain relative path inside the
job's ``outputs/``; every file is opened component by component without following a link, so a link the
job made (to ``/etc/shadow``, or a folder outside) is refused, never chmod-ed, hashed, linked or copied.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import shutil
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..exceptions import CorruptData

DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK  # a FIFO must not hang the server
MAX_NAME = 1024


class UnsafeOutput(CorruptData):
    reason = "unsafe_output"


class UnreadableOutput(UnsafeOutput):
    """The file is there but not this process's to read (another user's private job folder)."""

    reason = "unreadable_output"


def checked_name(name: object) -> str:
    """``name`` when it is a plain relative path (no ``..``, not absolute, no control characters)."""
    if not isinstance(name, str) or not name or len(name) > MAX_NAME:
        raise UnsafeOutput(f"an output name must be a relative path of 1 to {MAX_NAME} characters, got {str(name)[:80]!r}")
    parts = name.split("/")
    if name.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\\" in name or \
            any(ord(c) < 32 or c == "\x7f" for c in name) or posixpath.normpath(name) != name:
        raise UnsafeOutput(f"the output name {name[:80]!r} leaves the job's outputs or is not plain")
    return name


@contextmanager
def opened(root: Path, name: str) -> Iterator[int]:
    """A read-only descriptor of the regular file ``name`` under ``root``, reached without following any
    link (``root`` itself is the server's own path); :class:`UnsafeOutput` for a link or anything else."""
    parts = checked_name(name).split("/")
    descriptors = []
    try:
        descriptors.append(os.open(root, DIRECTORY))
        for part in parts[:-1]:
            descriptors.append(os.open(part, DIRECTORY, dir_fd=descriptors[-1]))
        fd = os.open(parts[-1], FILE, dir_fd=descriptors[-1])
        descriptors.append(fd)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UnsafeOutput(f"the output {name[:80]!r} is not a regular file")
        yield fd
    except PermissionError as error:
        raise UnreadableOutput(f"the output {name[:80]!r} is not readable here ({error.strerror})") from None
    except OSError as error:
        raise UnsafeOutput(f"the output {name[:80]!r} is not a plain file inside the job's outputs "
                           f"({error.strerror or error})") from None
    finally:
        for descriptor in reversed(descriptors):
            os.close(descriptor)


def file_stat(root: Path, name: str) -> os.stat_result:
    """The status of output ``name`` (a regular file reached without links)."""
    with opened(root, name) as fd:
        return os.fstat(fd)


def private_folders(*folders: Path) -> None:
    """Make each of ``folders`` (its parents as usual) its owner's alone, 0700 whatever the umask or the home's
    mode (what a job writes inside is private too: execute.py's umask)."""
    for folder in folders:
        folder.parent.mkdir(parents=True, exist_ok=True)
        folder.mkdir(mode=0o700)
        folder.chmod(0o700)


def freeze(root: Path, name: str) -> os.stat_result:
    """Make output ``name`` read-only and its owner's alone (as the result cache keeps it); return its status."""
    with opened(root, name) as fd:
        os.fchmod(fd, 0o400)
        return os.fstat(fd)


def copy_out(root: Path, name: str, destination: Path) -> None:
    """Copy output ``name`` to ``destination`` (a path the caller has checked), from the opened file."""
    with opened(root, name) as fd, os.fdopen(os.dup(fd), "rb") as source:
        partial = destination.with_name(f".{destination.name}.part")
        with open(partial, "wb") as target:
            shutil.copyfileobj(source, target, 8 << 20)
        os.replace(partial, destination)


def read_text(root: Path, name: str, *, limit: int = 64 << 20) -> str | None:
    """The text of file ``name`` in a job's folder ``root`` (status, log, job file), read without following a
    link and at most ``limit`` bytes of it (the tail); None when there is no such file yet."""
    if not (root / name).exists() and not (root / name).is_symlink():
        return None
    with opened(root, name) as fd:
        size = os.fstat(fd).st_size
        if size > limit:
            os.lseek(fd, size - limit, os.SEEK_SET)
        with os.fdopen(os.dup(fd), "rb") as fh:
            return fh.read(limit).decode("utf-8", errors="replace")


def sha256_of(root: Path, name: str) -> str:
    """The sha256 of output ``name``, read through the same checks."""
    digest = hashlib.sha256()
    with opened(root, name) as fd, os.fdopen(os.dup(fd), "rb") as fh:
        while chunk := fh.read(8 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def checked_files(files: object) -> list[dict]:
    """A status file's ``files``: ``[{name, sha256, size}, ...]`` with plain names, or UnsafeOutput."""
    if not isinstance(files, list) or len(files) > 100_000:
        raise UnsafeOutput("the job's status lists its outputs as something other than a list of files")
    checked = []
    for item in files:
        if not isinstance(item, dict):
            raise UnsafeOutput("an output of the job's status is not an object")
        digest, size = item.get("sha256"), item.get("size")
        if not isinstance(digest, str) or len(digest) != 64 or set(digest) - set("0123456789abcdef"):
            raise UnsafeOutput(f"the output {str(item.get('name'))[:80]!r} has no sha256 of 64 hex digits")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise UnsafeOutput(f"the output {str(item.get('name'))[:80]!r} has no size in bytes")
        checked.append({**item, "name": checked_name(item.get("name"))})
    return checked


def read_status(workdir: Path) -> dict | None:
    """The status file a job wrote (an object with a ``state``), None while there is none; one that is not a
    plain JSON file of that shape reads as a failure saying so."""
    try:
        status = json.loads(read_text(workdir, "status.json", limit=16 << 20) or "null")
    except (UnsafeOutput, ValueError):
        status = []
    if status is None or isinstance(status, dict) and isinstance(status.get("state"), str):
        return status
    return {"state": "failed", "error": {"ename": "UnsafeOutput",
                                         "evalue": "the job's status file is not a JSON object with a state"}}
