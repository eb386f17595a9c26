"""What runs inside a job, at any site: ``python -m jupyter_vlass.jobs.execute <job directory>``.

It reads ``job.json`` (the notebook, its parameters, the staged inputs), runs the notebook with papermill
in ``outputs/``, and leaves ``status.json`` (written atomically) saying how it ended: ``done`` with every
output file's sha256, or ``failed`` with the failing cell's error. The site and the job monitor read only
these files, so the same runner serves a local process, a Slurm job and a job reached over SSH.

When the site's scratch is an S3 bucket, ``job.json`` also names the ``store`` and a ``results`` prefix:
the inputs are copied from the store into ``inputs/`` (each checked against its sha256) before the
notebook runs, and the outputs are written to ``results`` afterwards, each file's ``uri`` in the status.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from jupyter_vlass.federation.opened import ENV as OPENED_ENV, read_opened

JOB_FILE, STATUS_FILE, EXECUTED, OUTPUTS = "job.json", "status.json", "executed.ipynb", "outputs"
OPENED = "opened.jsonl"  # the datasets the notebook opened through the federation


def write_status(job_dir: Path, **status) -> None:
    tmp = job_dir / f".{STATUS_FILE}.tmp"
    tmp.write_text(json.dumps({**status, "time": time.time()}, sort_keys=True))
    os.replace(tmp, job_dir / STATUS_FILE)




def file_digests(folder: Path, *, only: str | None = None) -> list[dict]:
    """``[{name, sha256, size}]`` of every file under ``folder`` (or of ``only``; names relative, sorted)."""
    files = []
    for path in [folder / only] if only else sorted(p for p in folder.rglob("*") if p.is_file()):
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
        files.append({"name": path.relative_to(folder).as_posix(), "sha256": digest.hexdigest(),
                      "size": path.stat().st_size})
    return files


def software() -> dict:
    """The versions a capsule records: Python and the packages that shape a result."""
    import platform
    from importlib import metadata

    packages = {}
    for name in ("jupyter-vlass", "papermill", "astropy", "numpy", "scipy", "dask", "torch"):
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {"python": platform.python_version(), "packages": packages}


def _output(argv: list[str]) -> str:
    if not shutil.which(argv[0]):
        return ""
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def gpu_type() -> str | None:
    """The GPUs this job sees: ``nvidia-smi``'s names (e.g. "NVIDIA H100 80GB HBM3"), else the GRES type Slurm
    allocated to the job (``a100`` of ``GRES=gpu:a100:1(IDX:0)``), else None."""
    names = _output(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"]).splitlines()
    if any(n.strip() for n in names):
        return ", ".join(dict.fromkeys(n.strip() for n in names if n.strip()))
    job = os.environ.get("SLURM_JOB_ID", "")
    if job.isdigit():
        found = re.search(r"GRES=gpu:([A-Za-z0-9_.-]+):\d+", _output(["scontrol", "--details", "show", "job", job]))
        return found.group(1) if found else None
    return None


def gpu_utilisation() -> str:
    """``nvidia-smi``'s utilisation of the job's GPUs, or "unavailable"."""
    if not shutil.which("nvidia-smi"):
        return "unavailable"
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=index,utilization.gpu", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return "unavailable"
    return "; ".join(line.strip() for line in out.splitlines() if line.strip()) or "unavailable"


def _filesystem(store: dict):
    import s3fs

    client = {"endpoint_url": store["endpoint_url"]} if store.get("endpoint_url") else {}
    return s3fs.S3FileSystem(anon=bool(store.get("anon")), client_kwargs=client, skip_instance_cache=True)


def stage_in(job_dir: Path, job: dict) -> dict[str, str]:
    """Inputs that lie in the S3 store copied to ``inputs/`` on this node, verified; local paths as they are."""
    local, fs = {}, None
    for dataset, where in job["inputs"].items():
        if not where.startswith("s3://"):
            local[dataset] = where
            continue
        fs = fs or _filesystem(job.get("store") or {})
        target = job_dir / "inputs" / where.rsplit("/", 1)[-1]
        target.parent.mkdir(exist_ok=True)
        fs.get_file(where[5:], str(target))
        expected = (job.get("input_sha256") or {}).get(dataset)
        if expected and file_digests(target.parent, only=target.name)[0]["sha256"] != expected:
            raise RuntimeError(f"input {dataset}: the bytes read from {where} do not match its sha256")
        local[dataset] = str(target)
    return local


def upload_results(files: list[dict], outputs: Path, job: dict) -> list[dict]:
    """Each output file put under the ``results`` prefix of the store, its ``uri`` added."""
    if not job.get("results"):
        return files
    fs = _filesystem(job.get("store") or {})
    prefix = job["results"].rstrip("/")
    for item in files:
        fs.put_file(str(outputs / item["name"]), f"{prefix[5:]}/{item['name']}")
        item["uri"] = f"{prefix}/{item['name']}"
    return files


def main(argv: list[str] | None = None) -> int:
    os.umask(0o077)  # what the job writes (results, the executed notebook, its log) is its owner's alone
    job_dir = Path((argv or sys.argv[1:])[0]).resolve()
    job = json.loads((job_dir / JOB_FILE).read_text())
    outputs = job_dir / OUTPUTS
    outputs.mkdir(exist_ok=True)
    started = time.time()
    where = {"host": socket.gethostname(), "pid": os.getpid(), "started": started,
             "gpus": os.environ.get("CUDA_VISIBLE_DEVICES", ""), "gpu_utilisation": gpu_utilisation(),
             "gpu_type": gpu_type()}
    write_status(job_dir, state="running", **where)
    import papermill

    # The job's log shows what the papermill command shows: the kernel, each cell as it starts, its output.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("papermill").setLevel(logging.INFO)

    def cancelled(signum, _frame):  # scancel or the local site: stop the kernel too, then say so
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, cancelled)
    os.environ[OPENED_ENV] = str(job_dir / OPENED)  # the kernel notes each dataset it opens through a Registry
    cluster = None
    try:
        parameters = {**job["parameters"], "inputs": stage_in(job_dir, job)}
        if job.get("dask"):  # workers as Slurm jobs, cancelled below however the notebook ends
            from jupyter_vlass.jobs.dask_cluster import start_cluster  # the dask extra, for such jobs only

            cluster = start_cluster(job["dask"], job_dir / "dask-logs")
            parameters["dask_scheduler"] = cluster.scheduler_address
        papermill.execute_notebook(str(job_dir / job["notebook"]), str(job_dir / EXECUTED),
                                   parameters=parameters,
                                   cwd=str(outputs), kernel_name=job.get("kernel", "python3"),
                                   progress_bar=False, log_output=True)
    except papermill.PapermillExecutionError as exc:
        write_status(job_dir, state="failed", elapsed_s=time.time() - started, **where,
                     error={"cell": exc.exec_count, "ename": exc.ename, "evalue": str(exc.evalue)[:2000]})
        return 1
    except SystemExit:
        write_status(job_dir, state="cancelled", elapsed_s=time.time() - started, **where)
        raise
    except Exception as exc:  # the kernel died, the notebook is unreadable...: failed, with why
        write_status(job_dir, state="failed", elapsed_s=time.time() - started, **where,
                     error={"cell": None, "ename": type(exc).__name__, "evalue": str(exc)[:2000]})
        return 1
    finally:
        if cluster is not None:
            cluster.close()
    try:
        files = upload_results(file_digests(outputs), outputs, job)
    except Exception as exc:  # the store did not take the results: failed, nothing cached
        write_status(job_dir, state="failed", elapsed_s=time.time() - started, **where,
                     error={"cell": None, "ename": type(exc).__name__,
                            "evalue": f"writing the results to {job['results']}: {str(exc)[:1800]}"})
        return 1
    write_status(job_dir, state="done", elapsed_s=time.time() - started, files=files, software=software(),
                 opened=read_opened(job_dir / OPENED), **where)
    return 0


if __name__ == "__main__":
    sys.exit(main())
