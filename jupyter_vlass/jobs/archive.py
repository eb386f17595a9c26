"""A folder as one tar archive, for sending it to the hub service and back: a capsule, or a job's results.

Packing takes plain files only (a link is refused; :func:`pack_files` reaches each without following any). Unpacking trusts nothing in the archive: only plain
files and folders, each name a relative path of ordinary parts, written with ``O_EXCL | O_NOFOLLOW`` into
a new folder, within limits on the count and the total size; anything else refuses the whole archive.
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path, PurePosixPath

from ..exceptions import InvalidArgument
from .outputs import opened

MAX_FILES, MAX_BYTES = 10_000, 2 << 30


class BadArchive(InvalidArgument):
    reason = "bad_archive"


def pack(folder: Path) -> bytes:
    """The files under ``folder`` as an uncompressed tar, names relative to it, sorted."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(folder.rglob("*")):
            if path.is_symlink():
                raise BadArchive(f"{path.relative_to(folder)} is a symbolic link: an archive holds plain files only")
            if path.is_file():
                info = tarfile.TarInfo(path.relative_to(folder).as_posix())
                info.size, info.mode = path.stat().st_size, 0o600
                with open(path, "rb") as data:
                    tar.addfile(info, data)
    return buffer.getvalue()


def pack_files(folder: Path, names: list[str]) -> bytes:
    """The files ``names`` under ``folder`` as an uncompressed tar, each opened without following a link
    (:class:`~.outputs.UnsafeOutput` for a link, or anything but a regular file)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(names):
            with opened(folder, name) as fd, os.fdopen(os.dup(fd), "rb") as data:
                info = tarfile.TarInfo(name)
                info.size, info.mode = os.fstat(fd).st_size, 0o600
                tar.addfile(info, data)
    return buffer.getvalue()


def _name(member: tarfile.TarInfo) -> PurePosixPath:
    name = PurePosixPath(member.name)
    if not member.name or name.is_absolute() or any(p in ("", ".", "..") for p in member.name.rstrip("/").split("/")) \
            or "\\" in member.name or "\0" in member.name or len(member.name) > 1024:
        raise BadArchive(f"the archive names {member.name[:200]!r}: only relative paths of ordinary names")
    return name


def unpack(data: bytes, target: Path) -> list[str]:
    """Write the archive ``data`` into ``target`` (created here, must not exist); the file names written.
    On a refusal nothing is left in ``target`` but what the caller removes with it."""
    try:
        tar = tarfile.open(fileobj=io.BytesIO(data), mode="r:")
        members = tar.getmembers()
    except (tarfile.TarError, EOFError) as error:
        raise BadArchive(f"not a tar archive ({error})") from None
    if len(members) > MAX_FILES or sum(m.size for m in members) > MAX_BYTES:
        raise BadArchive(f"an archive of at most {MAX_FILES} files and {MAX_BYTES >> 30} GiB")
    for member in members:
        _name(member)
        if not (member.isfile() or member.isdir()):
            raise BadArchive(f"{member.name[:200]} is not a plain file: an archive holds plain files only")
    target.mkdir(mode=0o700)
    written = []
    for member in members:
        path = target.joinpath(*_name(member).parts)
        if member.isdir():
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            continue
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if path.parent.is_symlink() or not path.parent.resolve().is_relative_to(target.resolve()):
            raise BadArchive(f"{member.name[:200]}: outside the archive's folder")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except FileExistsError:
            raise BadArchive(f"{member.name[:200]} is in the archive twice") from None
        with os.fdopen(fd, "wb") as out, tar.extractfile(member) as source:
            while chunk := source.read(1 << 20):
                out.write(chunk)
        written.append(_name(member).as_posix())
    return written
