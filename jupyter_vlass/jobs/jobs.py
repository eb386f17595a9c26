"""Analysis jobs: submit a manifest, watch it, cancel it, get its result; each user sees only their own.

>>> jobs = Jobs(registry, sites={"local": LocalSite()}, root=".", owner="alice")    # doctest: +SKIP
>>> job = jobs.submit(manifest)                                                      # doctest: +SKIP
>>> job.wait().result()                                                              # doctest: +SKIP

A submission is one job per owner and manifest (by the manifest's canonical digest), however often and
however concurrently it is sent. Before anything runs, the result cache is asked for the digest of what
determines the result; a hit at any site is the answer, says where it was cached and uses no compute.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Mapping
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..version import __version__
from ..exceptions import (AllocationExceeded, ApprovalDenied, AwaitingApproval, Forbidden, InvalidManifest,
                          UnknownDataset, UnknownJob, VlassError)
from ..store import CacheEntryRow, JobRow
from ..store.times import utcnow
from . import hub_cache
from .cache import ResultCache, describe_files
from .dask_cluster import job_settings, worker_request
from .execute import JOB_FILE, OUTPUTS
from .hub_accounts import HubAccounts, recorded
from .job import ACTIVE, ENDED, Job, StagingProgress
from .manifest import JobManifest
from .notebook_check import check_notebook, check_output, deliver
from .outputs import UnsafeOutput, private_folders, read_status, read_text
from ..compute.profiles import ProfileSet
from ..compute.resources import ResourceRequest
from . import requests
from .sites import Site
from .s3scratch import S3Scratch

REFUSED = (AllocationExceeded, AwaitingApproval, ApprovalDenied, Forbidden)


class Jobs:
    """The jobs of ``owner``: manifests resolved through ``registry`` (as that user sees it), run at
    ``sites``, notebooks and outputs under ``root`` (the user's notebook directory), job directories
    under ``jobs_dir``."""

    def __init__(self, registry, *, sites: Mapping[str, Site], root: str | Path, owner: str,
                 jobs_dir: str | Path | None = None, profiles: ProfileSet | None = None, groups=(),
                 accounts: HubAccounts | None = None):
        self.registry, self.sites, self.owner = registry, dict(sites), owner
        self.accounts = accounts  # the hub's allocations and approvals; None outside a hub (nothing charged)
        self.root = Path(root).resolve()
        self.jobs_dir = Path(jobs_dir or self.root / ".vlass-jobs").resolve()
        self.profiles, self.groups = profiles, tuple(groups)
        self.sessions = registry.Session
        self.cache = ResultCache(self.sessions)

    # submission ----------------------------------------------------------------------------------
    def submit(self, document: object, *, progress=None) -> Job:
        """``progress(bytes_staged, total_bytes)`` is called while the inputs are staged (a progress bar)."""
        manifest = JobManifest.from_json(document)
        site = self.sites.get(manifest.site)
        if site is None:
            raise InvalidManifest(f"manifest $.site: {manifest.site!r} is not a site here "
                                  f"(sites: {', '.join(sorted(self.sites))})")
        notebook = check_notebook(self.root, manifest)
        check_output(self.root, manifest)
        request = requests.resolve(self.profiles, self.groups, site, manifest.profile, manifest.resources)
        worker = None
        if manifest.dask:
            if site.kind != "slurm":
                raise InvalidManifest(f"manifest $.dask: a Dask cluster runs on a Slurm site, not {site.name!r}")
            worker = worker_request(manifest.dask, request, self.profiles.partitions)
        records = self._inputs(manifest)
        image = request.image.digest if request is not None and request.image else None
        key = manifest.result_key([r.sha256 or r.uri for r in records], image_digest=image,
                                  package_version=__version__)
        job_id = "j" + hashlib.sha256(f"{self.owner}\0{manifest.digest}".encode()).hexdigest()[:16]
        with self.sessions.begin() as session:
            row = session.get(JobRow, job_id)
            if row is not None and row.state not in ("failed", "cancelled"):
                return Job(self, job_id)
        hit = None if manifest.replay_of or manifest.recompute else \
            self.cache.lookup(key) or hub_cache.hit(self.accounts, self.cache, self.jobs_dir / self.owner, key,
                                                    manifest)  # a replay is computed again
        row = self._claim(job_id, manifest, key, site, attempt_if_ended=True,
                          cached=hit.site if hit else None)
        if row is None:  # another submission of the same manifest got there first
            return Job(self, job_id)
        if hit is not None:
            undelivered = deliver(self.root, manifest, Path(hit.location), hit.files)
            self._finish(job_id, "failed" if undelivered else "done",
                         undelivered or f"cached on the {hit.site} site, not recomputed",
                         result={"location": hit.location, "files": hit.files})
            return Job(self, job_id)
        try:
            project = self._authorize(site, manifest, f"{job_id}.{row.attempt}", image)
            workdir = self.jobs_dir / self.owner / job_id
            extra = {"dask": job_settings(manifest.dask, worker, python=site.python, account=project)} if worker else {}
            self._prepare(job_id, workdir, manifest, notebook, records, site, key, extra, progress)
            site_job_id = site.submit(workdir, request, project=project)
        except VlassError as error:
            # A refusal (allocation, approval) is the hub's own decision: nothing to report back.
            self._finish(job_id, "failed", error.message, report=not isinstance(error, REFUSED))
            raise
        with self.sessions.begin() as session:
            row = session.get(JobRow, job_id)
            row.site_job_id, row.workdir, row.updated_at, row.project = site_job_id, str(workdir), utcnow(), project
            row.state = "running" if site.kind == "local" else "queued"
            row.started_at = utcnow() if site.kind == "local" else None
        return Job(self, job_id)

    def _authorize(self, site: Site, manifest: JobManifest, run_id: str, image: str | None) -> str | None:
        """Ask the hub (allocation, approval above the threshold), which records the job with the result key it
        computes from what determines the result; the project charged, or None outside a hub."""
        if self.accounts is None:
            return None
        claims = manifest.key_claims(image_digest=image, package_version=__version__)
        claims.pop("parameters")  # the service takes the job's own
        grant = self.accounts.authorize(site_kind=site.kind, profile=manifest.profile,
                                        resources=dict(manifest.resources or {}), dask=manifest.dask,
                                        job={**recorded(run_id, site.name, manifest), "key": claims})
        return grant["project"]

    def _report(self, job_id: str) -> None:
        """Tell the hub service how an ended job went and what it cost (a Slurm job's cost comes back from
        Slurm's accounting); retried by later reads while the service or the accounting is not there yet."""
        row = self.row(job_id)
        if self.accounts is None or row.charged or row.state not in ENDED:
            return
        su = hub_cache.report_ended(self.accounts, row, self.sites.get(row.site))
        if su is None:  # the service, or Slurm's accounting, is not there yet: a later read tries again
            return
        with self.sessions.begin() as session:
            stored = session.get(JobRow, job_id)
            stored.charged, stored.su = True, su

    def image_of(self, job_id: str) -> dict | None:
        """The container image a job ran in (name, runtime, sha256 digest), None for none."""
        row = self.row(job_id)
        request = self._stored_request(self.sites[row.site], row)
        image = request.image if request is not None else None
        return {"name": image.name, "runtime": image.runtime, "sha256": image.digest} if image else None

    def requested(self, row: JobRow) -> dict:
        """``request`` (what a Slurm job asked for) and ``walltime_s``; None on the local site or when the profile
        no longer resolves."""
        try:
            return requests.shown(self._stored_request(self.sites[row.site], row))
        except (KeyError, VlassError):
            return requests.shown(None)

    def _stored_request(self, site: Site, row: JobRow) -> ResourceRequest | None:
        return requests.stored(self.profiles, self.groups, site, row.manifest)

    def _inputs(self, manifest: JobManifest) -> list:
        records = []
        for index, pin in enumerate(manifest.inputs):
            try:
                record = self.registry.get(pin.id, pin.version)
            except UnknownDataset:
                raise InvalidManifest(f"manifest $.inputs[{index}]: no dataset {pin.id!r} version "
                                      f"{pin.version!r} that you may read") from None
            if pin.sha256 and pin.sha256 != record.sha256:
                raise InvalidManifest(f"manifest $.inputs[{index}].sha256: does not match the registry's "
                                      f"{record.sha256} for {pin.id}@{pin.version}")
            records.append(record)
        return records

    def _claim(self, job_id, manifest, key, site, *, attempt_if_ended, cached) -> JobRow | None:
        now = utcnow()
        try:
            with self.sessions.begin() as session:
                row = session.get(JobRow, job_id)
                if row is None:
                    row = JobRow(id=job_id, owner=self.owner, digest=manifest.digest, attempt=1, created_at=now)
                    session.add(row)
                elif row.state in ENDED and attempt_if_ended:
                    row.attempt += 1
                else:
                    return None
                row.result_key, row.manifest, row.site = key, manifest.to_json(), site.name
                row.state, row.reason, row.cached_from, row.result = "staging", None, cached, None
                row.site_job_id = row.workdir = row.started_at = row.ended_at = None
                row.updated_at, row.su, row.progress = now, 0.0, None
            return row
        except IntegrityError:
            return None

    def _prepare(self, job_id: str, workdir: Path, manifest: JobManifest, notebook: Path, records,
                 site: Site, key: str, extra: dict, progress=None) -> None:
        if workdir.exists():
            shutil.rmtree(workdir)
        private_folders(workdir, workdir / OUTPUTS)  # results, logs, the executed notebook: the owner's alone
        shutil.copyfile(notebook, workdir / "notebook.ipynb")
        (workdir / "notebook.ipynb").chmod(0o600)
        scratch = site.scratch(self.jobs_dir / ".scratch")
        total = sum(r.size or 0 for r in records) or None
        report = StagingProgress(self.sessions, job_id, total, progress)
        inputs = {}
        for record in records:
            inputs[record.dataset_id] = scratch.stage(self.registry, record, progress=report.step(record)).location
        job = {"notebook": "notebook.ipynb", "inputs": inputs, "parameters": dict(manifest.parameters),
               "input_sha256": {r.dataset_id: r.sha256 for r in records}, **extra}
        if isinstance(scratch, S3Scratch):  # the job reads its inputs from the store and writes its results there
            job.update(store=scratch.store.to_json(), results=scratch.results_uri(key))
        (workdir / JOB_FILE).write_text(json.dumps(job, indent=1))
        (workdir / JOB_FILE).chmod(0o600)
        site.prepare(workdir, inputs=[Path(p) for p in inputs.values() if not isinstance(scratch, S3Scratch)])
        if site.scratch_quota_gb:
            scratch.clean(quota_bytes=int(site.scratch_quota_gb * 1e9), keep=self._inputs_in_use() | set(inputs.values()))

    def _inputs_in_use(self) -> set[str]:
        """The staged inputs of every job not yet ended (of any user): never cleaned away under them."""
        with self.sessions() as session:
            workdirs = session.scalars(select(JobRow.workdir).where(JobRow.state.in_(ACTIVE),
                                                                    JobRow.workdir.is_not(None))).all()
        used = set()
        for folder in workdirs:
            try:
                used |= set(json.loads(read_text(Path(folder), JOB_FILE) or "{}")["inputs"].values())
            except (UnsafeOutput, ValueError, KeyError, TypeError, AttributeError):
                continue
        return used

    # state ---------------------------------------------------------------------------------------
    def _finish(self, job_id: str, state: str, reason: str | None, *, result: dict | None = None,
                su: float = 0.0, report: bool = True) -> None:
        with self.sessions.begin() as session:
            row = session.get(JobRow, job_id)
            row.state, row.reason, row.updated_at, row.ended_at, row.su = state, reason, utcnow(), utcnow(), su
            row.charged = not report  # "charged": reported to the hub service (and charged when it ran)
            if result is not None:
                row.result = result
        self._report(job_id)

    def _service_units(self, row: JobRow, elapsed_s: float | None) -> float:
        """What the run cost: node-hours x the partition's charge rate on Slurm, hours x the site's rate here."""
        site = self.sites.get(row.site)
        if not elapsed_s or site is None:
            return 0.0
        hours = elapsed_s / 3600
        if site.kind == "local":
            return hours * site.rate
        try:
            request = self._stored_request(site, row)
        except VlassError:  # the profiles changed since: charge at the site's own rate
            return hours * site.rate
        limits = self.profiles.partitions.get(request.partition) if self.profiles else None
        return hours * request.nodes * (limits.charge_rate if limits else site.rate)

    def refresh(self) -> None:
        """Bring every active job of this owner up to date: one call per site for all of its jobs."""
        if self.accounts is not None:
            with self.sessions() as session:
                uncharged = session.scalars(select(JobRow.id).where(
                    JobRow.owner == self.owner, JobRow.state.in_(ENDED), JobRow.charged.is_(False))).all()
            for job_id in uncharged:
                self._report(job_id)
        with self.sessions() as session:
            rows = session.scalars(select(JobRow).where(JobRow.owner == self.owner, JobRow.state.in_(ACTIVE),
                                                        JobRow.site_job_id.is_not(None))).all()
        by_site: dict[str, list[JobRow]] = {}
        for row in rows:
            by_site.setdefault(row.site, []).append(row)
        for name, site_rows in by_site.items():
            site = self.sites.get(name)
            if site is None:
                continue
            states = site.states([r.site_job_id for r in site_rows])
            for row in site_rows:
                self._update(row, states[row.site_job_id])

    def _update(self, row: JobRow, where) -> None:
        if where.state == "unknown":
            self._set(row.id, reason=where.detail)
            return
        if where.state == "pending":
            self._set(row.id, state="queued", reason=where.detail)
            return
        if where.state == "running":
            gpus = (read_status(Path(row.workdir)) or {}).get("gpu_utilisation")
            detail = f"{where.detail}; GPU utilisation {gpus}" if gpus else where.detail
            now = utcnow()
            lag = (now - where.started).total_seconds() if where.started and not row.status_lag_s else None
            self._set(row.id, state="running", reason=detail, started_at=row.started_at or now,
                      **({"status_lag_s": max(0.0, lag)} if lag is not None else {}))
            return
        if not self._claim_ending(row.id):
            return  # another refresh (another thread or process) is ending this job
        status = read_status(Path(row.workdir))
        elapsed = (status or {}).get("elapsed_s")
        su = self._service_units(row, elapsed if isinstance(elapsed, (int, float)) else None)
        if status is None or status.get("state") == "running":
            why = where.detail or "killed outside the platform?"
            self._finish(row.id, "failed", f"the job ended without saying how ({why})", su=su)
        elif status["state"] == "cancelled":
            self._finish(row.id, "cancelled", "cancelled (SIGTERM: by you, or scancel outside the platform)", su=su)
        elif status["state"] == "failed":
            error = status.get("error") or {}
            cell = f"cell {error.get('cell')}: " if error.get("cell") else ""
            self._finish(row.id, "failed", f"{cell}{error.get('ename')}: {error.get('evalue')}", su=su)
        elif status["state"] != "done":
            self._finish(row.id, "failed", f"the job's status says {str(status['state'])[:40]!r}", su=su)
        else:
            outputs = Path(row.workdir) / OUTPUTS
            try:
                files = describe_files(outputs, status.get("files"))
            except UnsafeOutput as error:
                self._finish(row.id, "failed", f"the job's outputs were refused: {error.message}", su=su)
                return
            manifest = JobManifest.from_json(row.manifest)
            self.cache.add(row.result_key, site=row.site, location=outputs, files=files, job_id=row.id,
                           inputs=[[p.id, p.version] for p in manifest.inputs],
                           retention_days=manifest.retention_days)
            result = {"location": str(outputs), "files": files,
                      **{k: status.get(k) for k in ("host", "gpus", "gpu_type", "gpu_utilisation", "software", "opened")}}
            undelivered = deliver(self.root, manifest, outputs, files)
            self._finish(row.id, "failed" if undelivered else "done",
                         undelivered or f"computed on the {row.site} site in {elapsed or 0:.1f} s", su=su, result=result)

    def _claim_ending(self, job_id: str) -> bool:
        """Move the job to ``retrieving``, if nobody else did: the one refresh that does ends it."""
        with self.sessions.begin() as session:
            done = session.execute(update(JobRow).where(JobRow.id == job_id, JobRow.state.in_(("queued", "running")))
                                   .values(state="retrieving", reason="reading how the job ended",
                                           updated_at=utcnow()))
            return done.rowcount == 1

    def _set(self, job_id: str, **values) -> None:
        """Update a queued or running job (one that another refresh already ended is left alone)."""
        with self.sessions.begin() as session:
            session.execute(update(JobRow).where(JobRow.id == job_id, JobRow.state.in_(("queued", "running")))
                            .values(**values, updated_at=utcnow()))

    # queries and actions -------------------------------------------------------------------------
    def row(self, job_id: str) -> JobRow:
        with self.sessions() as session:
            row = session.get(JobRow, job_id) if isinstance(job_id, str) else None
            if row is None or row.owner != self.owner:
                raise UnknownJob(f"no job {str(job_id)[:40]!r}")
            return row

    def get(self, job_id: str) -> Job:
        self.row(job_id)
        return Job(self, job_id)

    def computed_by(self, job_id: str) -> Job | None:
        """The job that computed what ``job_id`` was answered with from the cache (itself when it computed
        it): a job of this owner, or None when the result came from another user's run (or left the cache)."""
        row = self.row(job_id)
        if row.cached_from is None:
            return Job(self, job_id)
        with self.sessions() as session:
            entry = session.get(CacheEntryRow, (row.result_key, row.cached_from))
            origin = session.get(JobRow, entry.job_id) if entry is not None else None
        return Job(self, origin.id) if origin is not None and origin.owner == self.owner else None

    def list(self, *, refresh: bool = True) -> list[Job]:
        if refresh:
            self.refresh()
        with self.sessions() as session:
            ids = session.scalars(select(JobRow.id).where(JobRow.owner == self.owner)
                                  .order_by(JobRow.created_at.desc())).all()
        return [Job(self, i) for i in ids]

    def cancel(self, job_id: str) -> Job:
        row = self.row(job_id)
        if row.state in ENDED:
            return Job(self, job_id)
        site = self.sites.get(row.site)
        if site is not None and row.site_job_id:
            site.cancel(row.site_job_id)
        self._finish(job_id, "cancelled", "cancelled by you")
        return Job(self, job_id)

    def log(self, job_id: str, *, lines: int = 200) -> str:
        row = self.row(job_id)
        if not row.workdir:
            return ""
        try:
            text = read_text(Path(row.workdir), "job.log", limit=8 << 20) or ""
        except UnsafeOutput as error:
            return f"(the job's log cannot be shown: {error.message})"
        return "\n".join(text.splitlines()[-max(1, min(lines, 10000)):])
