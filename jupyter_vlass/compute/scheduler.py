"""Slurm: argv builders and output parsers (pure functions; the spawner and the job API share them).

Nothing here runs a program: :mod:`jupyter_vlass.compute.slurm` passes these argv lists to
:func:`jupyter_vlass.compute.runner.run`. Job ids are checked to be integers before they go in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from astropy.time import Time

from ..exceptions import InvalidRequest, RequestImpossible

SQUEUE_FIELDS = ("%i", "%T", "%r", "%P", "%Q", "%S", "%N", "%u", "%j", "%M")
SQUEUE_FORMAT = "|".join(SQUEUE_FIELDS)
SACCT_FIELDS = ("JobIDRaw", "User", "Account", "Partition", "NNodes", "ElapsedRaw", "State", "Start", "End",
                "AllocTRES", "JobName", "Submit")
PENDING_STATES = frozenset({"PENDING", "CONFIGURING", "REQUEUED", "RESIZING", "SUSPENDED"})
RUNNING_STATES = frozenset({"RUNNING", "COMPLETING", "STAGE_OUT"})
_JOB_ID = re.compile(r"^[0-9]{1,12}$")
_TEST_ONLY = re.compile(r"Job (\d+) to start at (\S+) using (\d+) processors on nodes (\S+) in partition (\S+)")
_GRES_IDX = re.compile(r"gpu(?::[A-Za-z0-9_-]+)?:\d+\(IDX:([0-9,\-]+)\)")


def job_id(value: object) -> str:
    """A Slurm job id as a string, refused unless it is digits only."""
    text = str(value).strip()
    if not _JOB_ID.match(text):
        raise InvalidRequest(f"job id: {text[:40]!r} is not a Slurm job id")
    return text


def sbatch_argv(*, test_only: bool = False) -> list[str]:
    """Submit the script given on stdin; ``--parsable`` prints ``jobid[;cluster]``."""
    return ["sbatch", "--test-only"] if test_only else ["sbatch", "--parsable"]


def squeue_argv(*, job_name: str | None = None, job_ids: Iterable[str] = ()) -> list[str]:
    """One call for every job the hub watches (all states, so just-finished jobs show how they ended)."""
    argv = ["squeue", "--noheader", "--states=all", f"--format={SQUEUE_FORMAT}"]
    if job_name:
        argv.append(f"--name={job_name}")
    ids = [job_id(j) for j in job_ids]
    if ids:
        argv.append("--jobs=" + ",".join(ids))
    return argv


def scancel_argv(job: str) -> list[str]:
    return ["scancel", job_id(job)]


def scontrol_job_argv(job: str) -> list[str]:
    return ["scontrol", "--details", "show", "job", job_id(job)]


def sacct_argv(*, since: Time, job_name: str | None = None, job: str | None = None) -> list[str]:
    argv = ["sacct", "--allusers", "--allocations", "--noheader", "--parsable2",
            "--starttime=" + since.strftime("%Y-%m-%dT%H:%M:%S"), "--format=" + ",".join(SACCT_FIELDS)]
    if job_name:
        argv.append(f"--name={job_name}")
    if job:
        argv.append(f"--jobs={job_id(job)}")
    return argv


@dataclass(frozen=True)
class JobState:
    """One line of ``squeue``."""

    job_id: str
    state: str
    reason: str
    partition: str
    priority: int
    start: Time | None  # actual start when running, Slurm's estimate when pending (if it has one)
    nodes: str
    user: str
    name: str
    elapsed: str

    @property
    def pending(self) -> bool:
        return self.state in PENDING_STATES

    @property
    def running(self) -> bool:
        return self.state in RUNNING_STATES


def _slurm_time(text: str) -> Time | None:
    if not text or text in ("N/A", "Unknown", "None"):
        return None
    try:
        return Time(text, format="isot", scale="utc")
    except ValueError:
        return None


def parse_squeue(text: str) -> dict[str, JobState]:
    jobs: dict[str, JobState] = {}
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) != len(SQUEUE_FIELDS) or not _JOB_ID.match(parts[0]):
            continue
        ident, state, reason, partition, priority, start, nodes, user, name, elapsed = parts
        jobs[ident] = JobState(ident, state, reason, partition, int(priority) if priority.isdigit() else 0,
                               _slurm_time(start), nodes, user, name, elapsed)
    return jobs


def queue_position(jobs: Mapping[str, JobState], job: str) -> int | None:
    """1 for the next pending job in its partition (Slurm's priority order, then submit order)."""
    me = jobs.get(job)
    if me is None or not me.pending:
        return None
    ahead = [j for j in jobs.values() if j.pending and j.partition == me.partition
             and (j.priority, -int(j.job_id)) > (me.priority, -int(me.job_id))]
    return len(ahead) + 1


@dataclass(frozen=True)
class StartEstimate:
    start: Time
    partition: str
    nodes: str


def refusal(stderr: str) -> RequestImpossible:
    """The error for an ``sbatch`` that refused a request, in Slurm's own words."""
    message = stderr.strip().removeprefix("sbatch: error: ").splitlines()
    return RequestImpossible("Slurm refused the request: " + (message[-1] if message else "no reason given"))


def parse_test_only(returncode: int, stderr: str) -> StartEstimate:
    """``sbatch --test-only`` writes its answer to stderr; a refusal raises :class:`RequestImpossible`."""
    match = _TEST_ONLY.search(stderr)
    if returncode != 0 or not match:
        raise refusal(stderr)
    return StartEstimate(Time(match.group(2), format="isot", scale="utc"), match.group(5), match.group(4))


def parse_job_id(stdout: str) -> str:
    """``sbatch --parsable`` prints ``jobid`` or ``jobid;cluster`` (last line)."""
    lines = stdout.strip().splitlines()
    if not lines:
        raise RequestImpossible("sbatch printed no job id")
    return job_id(lines[-1].split(";")[0])


def parse_gpu_indices(scontrol_text: str) -> list[int]:
    """GPU indices given to a running job, from ``scontrol -d show job`` (``GRES=gpu:a100:1(IDX:0)``)."""
    indices: list[int] = []
    for group in _GRES_IDX.findall(scontrol_text):
        for part in group.split(","):
            low, _, high = part.partition("-")
            indices.extend(range(int(low), int(high or low) + 1))
    return indices


@dataclass(frozen=True)
class AccountedJob:
    """A job as Slurm accounting (``sacct``) reports it."""

    job_id: str
    user: str
    account: str
    partition: str
    nodes: int
    elapsed_s: int
    state: str
    start: Time | None
    end: Time | None
    gpus: int
    name: str
    tres: str = ""  # AllocTRES as Slurm wrote it
    submit: Time | None = None  # when Slurm took it: start - submit is the queue wait

    @property
    def gpu_type(self) -> str | None:
        """The GRES type of the job's GPUs (``a100`` of ``gres/gpu:a100=1``), if Slurm names one."""
        found = re.search(r"gres/gpu:([^=,]+)=", self.tres)
        return found.group(1) if found else None

    def to_json(self) -> dict:
        return {"job_id": self.job_id, "user": self.user, "account": self.account, "partition": self.partition,
                "nodes": self.nodes, "elapsed_s": self.elapsed_s, "state": self.state, "gpus": self.gpus,
                "gpu_type": self.gpu_type, "alloc_tres": self.tres,
                "start": self.start.isot if self.start is not None else None,
                "end": self.end.isot if self.end is not None else None,
                "submit": self.submit.isot if self.submit is not None else None}


def parse_sacct(text: str) -> list[AccountedJob]:
    jobs = []
    for line in text.splitlines():
        parts = line.split("|")
        if len(parts) != len(SACCT_FIELDS) or not _JOB_ID.match(parts[0]):
            continue
        ident, user, account, partition, nodes, elapsed, state, start, end, tres, name, submit = parts
        gpus = sum(int(m) for m in re.findall(r"gres/gpu(?::[^=,]+)?=(\d+)", tres)[:1])
        jobs.append(AccountedJob(ident, user, account, partition, int(nodes or 0), int(elapsed or 0),
                                 state.split()[0] if state else "", _slurm_time(start), _slurm_time(end),
                                 gpus, name, tres, _slurm_time(submit)))
    return jobs
