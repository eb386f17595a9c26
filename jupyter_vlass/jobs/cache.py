"""The result cache across sites, content-addressed by everything that determines a result.

An entry says which site holds a copy of which result, with each file's sha256, size, modification time
and inode change time. A lookup checks the copy's sizes and times (cheap whatever the size, so a hit stays
fast) and evicts a copy that changed: nobody can set a change time back, so a copy rewritten in place with
its size and modification time restored is caught too; ``gc(verify=True)`` re-hashes every byte. Files
are made read-only when cached, and delivered as copies (a hard link would let the copy be written).
Every file is reached without following a link (:mod:`.outputs`): a copy lies in a job's folder, which the
job's account owns.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from ..store import CacheEntryRow, JobRow
from ..store.times import utcnow
from .outputs import UnreadableOutput, UnsafeOutput, checked_files, file_stat, freeze, sha256_of


@dataclass(frozen=True)
class CacheEntry:
    key: str
    site: str
    location: str
    files: list[dict]
    job_id: str
    inputs: list = ()  # [[dataset id, version]] the result was computed from


def describe_files(location: Path, digests: object) -> list[dict]:
    """``digests`` (name, sha256, size: what the job's status says) checked, with each file's modification
    time, the files made read-only; :class:`~.outputs.UnsafeOutput` for a name that leaves ``location``, a
    link, anything but a regular file, or a size that is not the file's."""
    described = []
    for item in checked_files(digests):
        st = freeze(location, item["name"])
        if st.st_size != item["size"]:
            raise UnsafeOutput(f"the output {item['name'][:80]!r} has {st.st_size} bytes, not the {item['size']} "
                               "the job's status says")
        described.append({**item, "mtime_ns": st.st_mtime_ns, "ctime_ns": st.st_ctime_ns})
    return described


def _intact(entry: CacheEntryRow, *, verify: bool) -> bool | None:
    """Whether the copy is as it was cached; None when this process may not read it (another user's private
    job folder): not evicted for that, and not used."""
    location = Path(entry.location)
    try:
        for item in entry.files:
            st = file_stat(location, item["name"])
            if st.st_size != item["size"] or st.st_mtime_ns != item.get("mtime_ns", st.st_mtime_ns) or \
                    st.st_ctime_ns != item.get("ctime_ns", st.st_ctime_ns):
                return False
            if verify and sha256_of(location, item["name"]) != item["sha256"]:
                return False
    except UnreadableOutput:
        return None
    except UnsafeOutput:  # gone, or a link or folder in its place
        return False
    return True


class ResultCache:
    def __init__(self, sessions):
        self._sessions = sessions

    def lookup(self, key: str, *, site: str | None = None, use: bool = True) -> CacheEntry | None:
        """An intact copy of the result ``key`` at any site (or at ``site``; the most recently used first), or
        None. ``use``: counted as a hit."""
        with self._sessions.begin() as session:
            query = select(CacheEntryRow).where(CacheEntryRow.key == key)
            if site is not None:
                query = query.where(CacheEntryRow.site == site)
            rows = session.scalars(query.order_by(CacheEntryRow.last_used_at.desc())).all()
            for row in rows:
                intact = _intact(row, verify=False)
                if intact is None:  # another user's private copy: computed again for this caller
                    continue
                if not intact:
                    session.delete(row)  # the bytes changed: evicted, the job recomputes
                    continue
                if use:
                    row.hits += 1
                    row.last_used_at = utcnow()
                return CacheEntry(row.key, row.site, row.location, list(row.files), row.job_id, list(row.inputs or []))
        return None

    def add(self, key: str, *, site: str, location: Path, files: list[dict], inputs: list[list[str]],
            job_id: str, retention_days: int) -> None:
        now = utcnow()
        try:
            with self._sessions.begin() as session:
                session.merge(CacheEntryRow(key=key, site=site, location=str(location), files=files,
                                            inputs=inputs,
                                            job_id=job_id, created_at=now, last_used_at=now, hits=0,
                                            expires_at=now + timedelta(days=retention_days)))
        except IntegrityError:  # the same result registered at the same site at the same moment: one entry
            pass

    def stats(self) -> dict:
        with self._sessions() as session:
            entries = session.scalar(select(func.count()).select_from(CacheEntryRow))
            per_site = dict(session.execute(select(CacheEntryRow.site, func.count())
                                            .group_by(CacheEntryRow.site)).all())
            size = sum(f["size"] for files in session.scalars(select(CacheEntryRow.files)) for f in files)
            hits = session.scalar(select(func.count()).select_from(JobRow).where(JobRow.cached_from.is_not(None)))
            computed = session.scalar(select(func.count()).select_from(JobRow)
                                      .where(JobRow.cached_from.is_(None), JobRow.state == "done"))
        lookups = hits + computed
        return {"entries": entries, "bytes": size, "per_site": per_site, "hits": hits, "computed": computed,
                "hit_rate": hits / lookups if lookups else None}

    def gc(self, *, verify: bool = False, owned_under: Path | None = None) -> list[dict]:
        """Drop expired entries and (with ``verify``) copies whose bytes changed; their files go too when
        they lie under ``owned_under`` (the jobs directory)."""
        removed = []
        now = utcnow()
        with self._sessions.begin() as session:
            for row in session.scalars(select(CacheEntryRow)).all():
                why = "expired" if row.expires_at <= now else \
                    "changed" if _intact(row, verify=verify) is False else None  # None: not ours to read
                if why is None:
                    continue
                removed.append({"key": row.key, "site": row.site, "location": row.location, "why": why})
                session.execute(delete(CacheEntryRow).where(CacheEntryRow.key == row.key,
                                                            CacheEntryRow.site == row.site))
                location = Path(row.location)
                # removed only where no link leads elsewhere (a job's account owns its folder); rmtree
                # unlinks links inside it without following them, and read-only files go as the rest
                if owned_under is not None and location.is_absolute() and location.resolve() == location \
                        and location.is_relative_to(owned_under.resolve()):
                    shutil.rmtree(location, ignore_errors=True)
        return removed
