"""A user's server and the hub service over one ended job: how it ended, what it cost, and its results in the
hub-wide result cache (:mod:`.hub_results` is the service's side) — a result another user's run computed,
brought into this user's private jobs folder and checked file by file against the sha256 the hub lists; and
what a job computed here, offered to the hub."""

from __future__ import annotations

import logging
import shutil
import uuid
from pathlib import Path

from ..exceptions import VlassError
from ..store.times import utcnow
from .archive import unpack
from .cache import CacheEntry, describe_files
from .hub_accounts import waits_of
from .hub_results import SITE
from .outputs import UnsafeOutput, checked_files, sha256_of

log = logging.getLogger(__name__)
HUB_RESULTS = ".hub-results"  # the hub-wide cache's results brought here, in the owner's jobs folder


def fetch(accounts, key: str, folder: Path) -> tuple[list[dict], str] | None:
    """``(files, the job that computed it)`` of the hub's result ``key`` placed at ``folder`` (its parent made
    0700), or None when the hub holds none this user may read; :class:`~.outputs.UnsafeOutput` when the hub's
    archive is not the files it lists, and the hub client's typed errors when it does not answer."""
    found = accounts.cached_result(key)
    if found is None:
        return None
    partial = folder.with_name(f".{key}.{uuid.uuid4().hex}")
    folder.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.parent.chmod(0o700)
    try:
        names = unpack(accounts.result_archive(key), partial)
        listed = {f["name"]: f for f in checked_files(found["files"])}
        if set(names) != set(listed) or any(sha256_of(partial, n) != listed[n]["sha256"] for n in names):
            raise UnsafeOutput(f"the hub's copy of result {key[:16]} is not the files it lists")
        files = describe_files(partial, list(listed.values()))
        if folder.exists():
            shutil.rmtree(folder)
        partial.rename(folder)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return files, found["job_id"]


def hit(accounts, cache, owner_folder: Path, key: str, manifest) -> CacheEntry | None:
    """The hub-wide cache's copy of result ``key`` (another user's run of the same analysis), checked and kept
    under ``owner_folder`` (the user's jobs folder) and in ``cache`` (theirs) as site ``hub``; None outside a hub,
    when the hub holds none this user may read, or when it does not answer (then it is computed here)."""
    if accounts is None:
        return None
    folder = owner_folder / HUB_RESULTS / key
    try:
        found = fetch(accounts, key, folder)
    except VlassError as error:
        log.warning("the hub's cached result %s was not used: %s", key[:16], error.message)
        return None
    if found is None:
        return None
    files, job_id = found
    cache.add(key, site=SITE, location=folder, files=files, job_id=job_id,
              inputs=[[p.id, p.version] for p in manifest.inputs], retention_days=manifest.retention_days)
    return CacheEntry(key, SITE, str(folder), files, job_id)


def offer(accounts, row, run_id: str) -> None:
    """Offer what a job (a ``JobRow``) computed here to the hub-wide cache, unless the hub holds it already."""
    result = row.result or {}
    if row.state != "done" or not result.get("location") or accounts.cached_result(row.result_key):
        return
    accounts.offer_result(row.result_key, run_id, Path(result["location"]), result.get("files") or [])


def report_ended(accounts, row, site) -> float | None:
    """Tell the hub service how an ended job (a ``JobRow``; ``site``: where it ran, if still configured) went and
    what it cost: its outputs first (a consensus may follow at once), its result offered, its charge (a Slurm
    job's from Slurm's accounting), the report. The service units charged, or None to try again later (the
    service or the accounting not there yet)."""
    kind = site.kind if site is not None else "local"
    ran = row.site_job_id is not None and row.cached_from is None
    elapsed = ((row.ended_at or utcnow()) - row.started_at).total_seconds() if row.started_at else 0.0
    run_id, su = f"{row.id}.{row.attempt}", row.su
    try:
        accounts.record_outputs(row, run_id, ran=ran)
        if ran:
            try:
                offer(accounts, row, run_id)
            except VlassError as error:  # the job's own record and charge go on without it
                log.warning("job %s's result was not offered to the hub's cache: %s", run_id, error.message)
        if ran and row.project:
            answer = accounts.charge(site_kind=kind, job_id=run_id if kind == "local" else row.site_job_id,
                                     su=row.su, elapsed_s=elapsed, state=row.state)
            if kind == "slurm":
                if not (answer.get("charged") and answer.get("final")):
                    return None  # Slurm's accounting has not caught up yet
                su = answer["su"]  # what Slurm's accounting charged
        wait, lag = waits_of(row, site if ran else None)
        accounts.report(job_id=run_id, site=row.site, site_kind=kind, state=row.state, submitted=ran,
                        cached=row.cached_from is not None, queue_wait_s=wait, status_lag_s=lag, su=su)
    except VlassError:
        return None
    return su
