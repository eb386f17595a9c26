"""The hub service's record of analysis jobs: what it authorized, and what each job wrote.

When the service authorizes a job it records the job's inputs and parameters. When the job ends, the user's
server reports the sha256 of every output and the bytes of the outputs a consensus is computed from (a
detection table, a class map); the service checks the bytes against their sha256 and keeps them by digest.
A job the result cache answered is recorded as well, unauthorized, and its evidence counts only when the job
that computed it recorded the same bytes. Each job is recorded once: a second report changes nothing.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ..exceptions import Conflict, InvalidArgument
from ..patterns import PLAIN_NAME
from ..store import EvidenceRow, JobRecordRow, write
from ..store.times import utcnow

DETECTION_TABLE = "detections.ecsv"
CLASS_MAP = "classes.fits"
EVIDENCE = (DETECTION_TABLE, CLASS_MAP)
MAX_EVIDENCE = 32 << 20  # bytes of one evidence file
ENDED = ("done", "failed", "cancelled")


class UnrecordedOutput(Conflict):
    reason = "unrecorded_output"


def is_evidence(name: str) -> bool:
    return name.rsplit("/", 1)[-1] in EVIDENCE


@dataclass(frozen=True)
class RecordedJob:
    user: str
    job_id: str
    site: str
    inputs: tuple[tuple[str, str], ...]
    parameters: dict
    authorized: bool
    state: str | None
    reason: str | None
    outputs: dict  # {name: sha256}

    @classmethod
    def of(cls, row: JobRecordRow) -> RecordedJob:
        return cls(row.user, row.job_id, row.site, tuple(tuple(p) for p in row.inputs), dict(row.parameters),
                   row.authorized, row.state, row.reason, dict(row.outputs or {}))


def _plain(value: object, field: str) -> str:
    if not isinstance(value, str) or not PLAIN_NAME.match(value):
        raise InvalidArgument(f"{field}: must match {PLAIN_NAME.pattern}")
    return value


def _inputs(value: object) -> list[list[str]]:
    if not isinstance(value, list) or len(value) > 1000 or not all(
            isinstance(p, list) and len(p) == 2 and all(isinstance(s, str) and 0 < len(s) <= 512 for s in p)
            for p in value):
        raise InvalidArgument("inputs: a list of [dataset id, version] pairs")
    return value


def _parameters(value: object) -> dict:
    if not isinstance(value, dict) or len(value) > 200 or not all(isinstance(k, str) for k in value):
        raise InvalidArgument("parameters: an object")
    return value


def _digest(value: object, field: str) -> str:
    if not isinstance(value, str) or len(value) != 64 or set(value) - set("0123456789abcdef"):
        raise InvalidArgument(f"{field}: a sha256 of 64 hex digits")
    return value


class JobRecords:
    def __init__(self, sessions: sessionmaker[Session]):
        self._sessions = sessions

    def authorized(self, *, user: str, project: str | None, body: dict, result_key: str | None = None) -> None:
        """Record a job the service just authorized: ``body``'s ``job_id``, ``site``, ``notebook``, ``inputs``
        and ``parameters``, with the result key the service computed for it (:mod:`.hub_results`). A second
        authorization of the same job id changes nothing."""
        self._add(user=user, project=project, body=body, authorized=True, result_key=result_key)

    def _add(self, *, user: str, project: str | None, body: dict, authorized: bool,
             result_key: str | None = None) -> None:
        notebook = body.get("notebook")
        if not isinstance(notebook, str) or not 0 < len(notebook) <= 512:
            raise InvalidArgument("notebook: a path of 1 to 512 characters")
        row = JobRecordRow(user=user, job_id=_plain(body.get("job_id"), "job_id"), project=project,
                           site=_plain(body.get("site"), "site"), notebook=notebook,
                           inputs=_inputs(body.get("inputs")), parameters=_parameters(body.get("parameters", {})),
                           authorized=authorized, authorized_at=utcnow(), result_key=result_key)

        def add(session) -> None:
            if session.get(JobRecordRow, (user, row.job_id)) is None:
                session.add(row)

        write(self._sessions, add)

    def ended(self, *, user: str, project: str | None, body: dict) -> None:
        """Record how ``user``'s job ended (``body``: what :meth:`authorized` takes, with ``state``, ``reason``,
        ``outputs`` {name: sha256} and ``evidence`` {name: base64 bytes}). Only once. A job the service did not
        authorize (one the result cache answered) is recorded unauthorized and none of its bytes are kept: its
        evidence counts only when the job that computed it recorded the same sha256."""
        job_id, state = _plain(body.get("job_id"), "job_id"), body.get("state")
        if state not in ENDED:
            raise InvalidArgument(f"state: one of {', '.join(ENDED)}")
        outputs = body.get("outputs") or {}
        if not isinstance(outputs, dict) or len(outputs) > 100_000:
            raise InvalidArgument("outputs: an object of output names and their sha256")
        outputs = {str(name)[:512]: _digest(digest, f"outputs[{str(name)[:80]!r}]") for name, digest in outputs.items()}
        evidence = self._evidence(body.get("evidence") or {}, outputs)
        self._add(user=user, project=project, body=body, authorized=False)  # nothing when it was authorized
        reason = body.get("reason")

        def end(session) -> None:
            row = session.get(JobRecordRow, (user, job_id))
            if row.state is not None:
                return
            if row.authorized:
                for digest, (name, content) in evidence.items():
                    if session.get(EvidenceRow, digest) is None:
                        session.add(EvidenceRow(sha256=digest, name=name, content=content))
            row.state, row.outputs, row.ended_at = state, outputs, utcnow()
            row.reason = reason[:2000] if isinstance(reason, str) else None

        write(self._sessions, end)

    @staticmethod
    def _evidence(evidence: object, outputs: dict) -> dict[str, tuple[str, bytes]]:
        if not isinstance(evidence, dict):
            raise InvalidArgument("evidence: an object of output names and their bytes (base64)")
        found = {}
        for name, encoded in evidence.items():
            if name not in outputs or not is_evidence(name):
                raise InvalidArgument(f"evidence[{str(name)[:80]!r}]: not an output the consensus is computed from")
            try:
                content = base64.b64decode(encoded, validate=True)
            except (TypeError, ValueError):
                raise InvalidArgument(f"evidence[{name[:80]!r}]: base64") from None
            if len(content) > MAX_EVIDENCE:
                raise InvalidArgument(f"evidence[{name[:80]!r}]: more than {MAX_EVIDENCE >> 20} MiB")
            if hashlib.sha256(content).hexdigest() != outputs[name]:
                raise InvalidArgument(f"evidence[{name[:80]!r}]: its bytes are not the sha256 the outputs name")
            found[outputs[name]] = (name.rsplit("/", 1)[-1], content)
        return found

    def latest(self, *, user: str, dataset_id: str, version: str) -> list[RecordedJob]:
        """``user``'s ended jobs that read ``dataset_id@version``, newest first."""
        with self._sessions() as session:
            rows = session.scalars(select(JobRecordRow).where(JobRecordRow.user == user,
                                                              JobRecordRow.state.is_not(None))
                                   .order_by(JobRecordRow.ended_at.desc())).all()
        return [RecordedJob.of(r) for r in rows if [dataset_id, version] in r.inputs]

    def evidence(self, digest: str) -> bytes:
        with self._sessions() as session:
            row = session.get(EvidenceRow, digest)
            if row is None:
                raise UnrecordedOutput(f"no recorded output {digest[:16]}")
            return row.content
