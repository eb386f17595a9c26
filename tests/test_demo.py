"""``make demo`` as its README says, as root (this suite's user): its registry and its jobs configuration made
by the same command the Makefile runs, then all three notebooks run top to bottom as JupyterLab runs them
(from ``notebooks/``, with the server's environment), every job as the account the config names. The
checkout's own virtual environment is not what the jobs run with (as root it may lie in root's private
home); a notebook whose runs all fail says so instead of drawing an empty sky."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from tests.services import REPO

pytestmark = pytest.mark.timeout(1200)


def _outputs(nb) -> str:
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    errors = [o for o in outputs if o.get("output_type") == "error"]
    assert not errors, [f"{e['ename']}: {e['evalue']}" for e in errors]
    return "\n".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", ""))
                     + str(o.get("data", {}).get("text/html", "")) for o in outputs)


@pytest.fixture
def demo(sample_data, area, job_env, monkeypatch, tmp_path):
    """What `make demo` does before JupyterLab starts, in a checkout-like folder the job account can read."""
    checkout = area / "checkout"
    shutil.copytree(REPO / "notebooks", checkout / "notebooks")
    db = f"sqlite:///{checkout / '.demo' / 'registry.sqlite'}"
    done = subprocess.run([sys.executable, "-m", "jupyter_vlass.cli", "--db", db, "demo-data",
                           str(sample_data["vlass"].parent), "--hips", "--seed",
                           "--jobs-config", str(checkout / ".demo" / "jobs.yaml"),
                           "--jobs-dir", str(area / "demo-jobs")], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    monkeypatch.setenv("JUPYTER_VLASS_DB", db)  # the server's environment, as the Makefile sets it
    monkeypatch.setenv("JUPYTER_VLASS_JOBS_CONFIG", str(checkout / ".demo" / "jobs.yaml"))
    monkeypatch.setenv("JUPYTER_VLASS_CAPSULES", str(tmp_path / "capsules"))  # not root's own data directory
    monkeypatch.setenv("JUPYTER_VLASS_KEYS", str(tmp_path / "keys"))
    return checkout


def _run(checkout: Path, name: str, timeout: int = 900):
    nb = nbformat.read(checkout / "notebooks" / name, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(checkout / "notebooks")}}).execute()
    return nb


def test_the_demo_runs_its_jobs_as_an_account_in_the_job_environment(demo):
    config = yaml.safe_load((demo / ".demo" / "jobs.yaml").read_text())
    assert os.geteuid() == 0 and config["account"] == "vlass-demo"
    python = config["sites"]["local"]["python"]
    assert python == "/opt/vlass-jobenv/bin/python" and not python.startswith(sys.prefix)
    ran = subprocess.run(["sudo", "-u", "vlass-demo", python, "-c", "import jupyter_vlass, papermill"],
                         capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr  # what the checkout's .venv is not, when it lies in root's home


def test_make_demo_runs_all_three_notebooks(demo):
    discovered = _outputs(_run(demo, "01-discover-datasets.ipynb"))
    assert "dataset versions in" in discovered and "sha256:" in discovered

    jobs = _outputs(_run(demo, "02-analysis-jobs.ipynb"))
    assert "sources above 6.0 x rms" in jobs and "cached on the local site, not recomputed" in jobs
    assert (demo / "notebooks" / "results" / "tile-catalogue" / "catalogue.ecsv").is_file()

    consensus = _outputs(_run(demo, "03-consensus.ipynb"))
    assert "this server offers no 'slurm' site: cnn runs here too" in consensus
    assert "'failed': []" in consensus, consensus[:2000]
    assert "consensus #1 of vlass:VLASS2.2.ql.T08t20.J135700-180000@v1" in consensus
    assert "published capsule" in consensus or "refused: " in consensus, consensus[-2000:]
    owners = subprocess.run(["find", str(demo.parent / "demo-jobs"), "-name", "status.json", "-printf", "%u\\n"],
                            capture_output=True, text=True).stdout.split()
    assert owners and set(owners) == {"vlass-demo"}, owners  # every job ran as the demo's account


def test_a_consensus_notebook_whose_runs_all_failed_says_so(demo):
    nb = nbformat.read(demo / "notebooks" / "03-consensus.ipynb", as_version=4)
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    params.source += '\nlocal_model, remote_model = "nonesuch", "nonesuch-either"\n'
    with pytest.raises(CellExecutionError, match="no detection run finished, so there is no consensus") as failed:
        NotebookClient(nb, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(demo / "notebooks")}}).execute()
    assert "nonesuch" in str(failed.value)
    drawn = [o for c in nb.cells for o in c.get("outputs", [])
             if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert not drawn, "no overlay was drawn"
    json.dumps(nb)  # the notebook itself is intact
