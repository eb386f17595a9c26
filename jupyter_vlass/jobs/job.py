"""One analysis job as its owner sees it (:class:`Job`), and the job document the REST API answers
(:func:`to_json`) with its staging progress. The jobs themselves are submitted and brought up to date by
:class:`.jobs.Jobs`."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import update

from ..exceptions import InvalidManifest
from ..store import JobRow
from ..store.times import utcnow
from .execute import EXECUTED

if TYPE_CHECKING:
    from .jobs import Jobs

ACTIVE = ("staging", "queued", "running", "retrieving")
ENDED = ("done", "failed", "cancelled")


class StagingProgress:
    """Staging progress into the job's row (at most every half second), for the REST job document."""

    def __init__(self, sessions, job_id: str, total: int | None, also=None):
        self.sessions, self.job_id, self.total, self.also = sessions, job_id, total, also
        self.before, self.last = 0, 0.0

    def step(self, record):
        base = self.before
        self.before += record.size or 0

        def report(done: int, _total: int | None) -> None:
            if self.also is not None:
                self.also(base + done, self.total)
            now = time.monotonic()
            if now - self.last < 0.5 and done != _total:
                return
            self.last = now
            with self.sessions.begin() as session:
                session.execute(update(JobRow).where(JobRow.id == self.job_id, JobRow.state == "staging").values(
                    progress={"step": "staging", "input": record.dataset_id, "done": base + done,
                              "total": self.total}, updated_at=utcnow()))
        return report


class Job:
    """One job, as its owner sees it; every read refreshes the jobs still running."""

    def __init__(self, jobs: Jobs, job_id: str):
        self.jobs, self.id = jobs, job_id

    def status(self) -> dict:
        """The job document; a job still active is brought up to date first (:meth:`Jobs.refresh`, which
        also charges the jobs it sees end)."""
        row = self.jobs.row(self.id)
        if row.state in ACTIVE:
            self.jobs.refresh()
            row = self.jobs.row(self.id)
        return {**to_json(row), **self.jobs.requested(row)}

    @property
    def state(self) -> str:
        return self.status()["state"]

    def wait(self, timeout: float = 3600.0, interval: float = 1.0) -> Job:
        deadline = time.monotonic() + timeout
        while self.state not in ENDED:
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {self.id} still {self.state} after {timeout:g} s")
            time.sleep(interval)
        return self

    def cancel(self) -> Job:
        return self.jobs.cancel(self.id)

    def result(self) -> dict[str, Path]:
        """Output file name -> path (raises unless the job is done)."""
        status = self.status()
        if status["state"] != "done":
            raise InvalidManifest(f"job {self.id} is {status['state']}: {status.get('reason') or 'no result yet'}",
                                  reason="job_not_done")
        location = Path(status["result"]["location"])
        return {f["name"]: location / f["name"] for f in status["result"]["files"]}

    def executed_notebook(self) -> Path | None:
        row = self.jobs.row(self.id)
        path = Path(row.workdir) / EXECUTED if row.workdir else None
        return path if path and path.exists() else None

    def log(self, lines: int = 200) -> str:
        return self.jobs.log(self.id, lines=lines)

    def _repr_html_(self) -> str:
        import html

        s = self.status()
        files = "".join(f"<li><code>{html.escape(f['name'])}</code> {f['size']:,} B</li>"
                        for f in (s.get("result") or {}).get("files", []))
        return (f"<div><b>Job {html.escape(s['id'])}</b> on <i>{html.escape(s['site'])}</i>: "
                f"<b>{html.escape(s['state'])}</b> {html.escape(s.get('reason') or '')}"
                f"{'<ul>' + files + '</ul>' if files else ''}</div>")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() + "Z" if value else None


def to_json(row: JobRow) -> dict:
    ended = row.ended_at or utcnow()
    elapsed = (ended - row.started_at).total_seconds() if row.started_at else None
    manifest = row.manifest or {}
    return {"id": row.id, "owner": row.owner, "state": row.state, "reason": row.reason, "site": row.site,
            "site_job_id": row.site_job_id, "cached_from": row.cached_from, "attempt": row.attempt,
            "notebook": manifest.get("notebook", {}).get("path"), "inputs": manifest.get("inputs", []),
            "parameters": manifest.get("parameters", {}), "digest": row.digest, "result_key": row.result_key,
            "created_at": _iso(row.created_at), "updated_at": _iso(row.updated_at),
            "started_at": _iso(row.started_at), "ended_at": _iso(row.ended_at), "elapsed_s": elapsed,
            "walltime_s": None, "result": row.result, "su": row.su, "progress": row.progress,
            "project": row.project, "charged": row.charged}
