"""A Dask cluster of Slurm jobs for one analysis job (dask-jobqueue), for data larger than one node.

The manifest asks ``dask: {workers, cores, memory, walltime}``; each worker is a Slurm job in the
partition of the job's profile, under the same project (so Slurm's accounting charges it), bounded by the
partition's limits like any request. The analysis notebook gets the scheduler's address as the parameter
``dask_scheduler``; the workers are cancelled when the notebook ends, however it ends.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..exceptions import InvalidManifest, VlassError
from ..compute.resources import ResourceRequest, check_limits, parse_memory, parse_walltime, slurm_memory

WORKER_JOB_NAME = "vlass-dask-worker"


def worker_request(dask: dict, request: ResourceRequest, partitions) -> ResourceRequest:
    """One worker's request: the job's partition, the manifest's cores, memory and walltime (default the job's)."""
    try:
        worker = replace(request, cpus=int(dask.get("cores", 1)), nodes=1, gpus=0, gpu_type=None, image=None,
                         memory=parse_memory(dask["memory"]) if dask.get("memory") else request.memory,
                         walltime=parse_walltime(dask["walltime"]) if dask.get("walltime") else request.walltime)
        check_limits(worker, partitions)
    except VlassError as error:
        raise InvalidManifest(f"manifest $.dask: {error.message}") from None
    return worker


def job_settings(dask: dict, worker: ResourceRequest, *, python: str, account: str | None) -> dict:
    """What ``execute`` needs to start the cluster on the node (``job.json``'s ``dask``)."""
    minutes = int(-(-worker.walltime.to_value("min") // 1))
    return {"workers": int(dask["workers"]), "cores": worker.cpus, "memory": slurm_memory(worker.memory),
            "walltime": f"{minutes // 60:02d}:{minutes % 60:02d}:00", "partition": worker.partition,
            "account": account, "python": python}


def start_cluster(settings: dict, log_dir: Path, *, timeout: float = 600.0):
    """The cluster, its workers running (waits up to ``timeout`` s for Slurm to start them)."""
    from dask_jobqueue import SLURMCluster
    from distributed import Client

    memory = settings["memory"].rstrip("M") + "MiB"
    cluster = SLURMCluster(cores=settings["cores"], processes=1, memory=memory, walltime=settings["walltime"],
                           queue=settings["partition"], account=settings.get("account") or None,
                           python=settings["python"], job_name=WORKER_JOB_NAME, log_directory=str(log_dir),
                           job_extra_directives=["--export=ALL"])
    cluster.scale(jobs=settings["workers"])
    with Client(cluster) as client:
        client.wait_for_workers(settings["workers"], timeout=timeout)
    return cluster
