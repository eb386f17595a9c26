"""Slurm argv builders and parsers, on output captured from the Slurm 22.05 these tests run against."""

import pytest
from astropy.time import Time

from jupyter_vlass.compute import scheduler
from jupyter_vlass.exceptions import InvalidRequest, RequestImpossible

SQUEUE = """\
41|RUNNING|None|gpu-a100|4294901756|2026-11-26T23:08:07|vm|vlt-alice|jupyterhub-vlass|1:02
42|PENDING|Resources|gpu-a100|4294901755|2026-11-27T00:08:07||vlt-bob|jupyterhub-vlass|0:00
43|PENDING|Priority|gpu-a100|4294901754|N/A||vlt-carol|jupyterhub-vlass|0:00
44|PENDING|Resources|cpu|4294901760|N/A||vlt-dave|jupyterhub-vlass|0:00
40|CANCELLED|None|gpu-a100|4294901757|2026-11-26T23:00:00|vm|vlt-alice|jupyterhub-vlass|0:10
"""


def test_squeue_lines_become_job_states():
    jobs = scheduler.parse_squeue(SQUEUE + "garbage line\n")
    assert set(jobs) == {"40", "41", "42", "43", "44"}
    assert jobs["41"].running and jobs["41"].nodes == "vm"
    assert jobs["42"].pending and jobs["42"].reason == "Resources" and jobs["42"].start.isot.startswith("2026-11-27")
    assert jobs["43"].start is None and not jobs["40"].pending and not jobs["40"].running


def test_queue_position_counts_higher_priority_jobs_of_the_same_partition():
    jobs = scheduler.parse_squeue(SQUEUE)
    assert [scheduler.queue_position(jobs, j) for j in ("42", "43", "44", "41")] == [1, 2, 1, None]


def test_test_only_estimate_and_refusal():
    estimate = scheduler.parse_test_only(0, "sbatch: Job 3 to start at 2026-11-26T23:07:17 using 1 processors on "
                                            "nodes vm in partition gpu-a100\n")
    assert estimate.start == Time("2026-11-26T23:07:17") and estimate.partition == "gpu-a100"
    with pytest.raises(RequestImpossible, match="Requested node configuration is not available"):
        scheduler.parse_test_only(1, "allocation failure: Requested node configuration is not available\n")


def test_gpu_indices_from_scontrol():
    text = "     Nodes=vm CPU_IDs=0 Mem=1000 GRES=gpu:a100:2(IDX:0-1)\n"
    assert scheduler.parse_gpu_indices(text) == [0, 1]
    assert scheduler.parse_gpu_indices("GRES=gpu:a100:1(IDX:1)") == [1]
    assert scheduler.parse_gpu_indices("GRES=gpu:3(IDX:0,2-3)") == [0, 2, 3]


def test_sacct_rows():
    rows = scheduler.parse_sacct("7|vlt-alice|vlt-alice|gpu-a100|1|125|CANCELLED by 0|2026-11-26T23:00:00|"
                                 "2026-11-26T23:02:05|billing=1,cpu=1,gres/gpu=2,mem=1000M,node=1|jupyterhub-vlass|"
                                 "2026-11-26T22:59:13\n")
    assert rows[0].state == "CANCELLED" and rows[0].elapsed_s == 125 and rows[0].gpus == 2 and rows[0].nodes == 1
    assert round((rows[0].start - rows[0].submit).to_value("s")) == 47  # the queue wait


def test_argv_are_lists_and_job_ids_are_checked():
    assert scheduler.scancel_argv("42") == ["scancel", "42"]
    assert scheduler.squeue_argv(job_name="jupyterhub-vlass")[-1] == "--name=jupyterhub-vlass"
    for bad in ("42; rm -rf /", "$(id)", "", "4 2"):
        with pytest.raises(InvalidRequest):
            scheduler.scancel_argv(bad)
    assert scheduler.parse_job_id("123;vlass-local\n") == "123"
