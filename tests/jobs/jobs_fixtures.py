"""What job tests share: unix accounts to run jobs as, a user area every account can read, manifests."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import nbformat
import pytest

from tests.services import REPO

JOB_ACCOUNTS = ("vlt-jobs-a", "vlt-jobs-b")
ANALYSIS = REPO / "notebooks" / "analysis-rms-catalogue.ipynb"


@pytest.fixture(scope="session")
def job_accounts():
    """Unix accounts jobs run as (jobs never run as root)."""
    for name in JOB_ACCOUNTS:
        if subprocess.run(["id", name], capture_output=True).returncode != 0:
            subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", name], check=True)
    return JOB_ACCOUNTS


@pytest.fixture
def area():
    """A user's notebook directory with the analysis notebook, readable by the job accounts."""
    folder = Path(tempfile.mkdtemp(prefix="vlass-area-"))
    folder.chmod(0o755)
    shutil.copy(ANALYSIS, folder / ANALYSIS.name)
    try:
        yield folder
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(folder)], check=False)
        if not os.environ.get("VLASS_KEEP_AREA"):
            shutil.rmtree(folder, ignore_errors=True)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def manifest(area: Path, *, notebook: str = ANALYSIS.name, site: str = "local", inputs=(), **extra) -> dict:
    doc = {"manifest_version": 1, "site": site,
           "notebook": {"path": notebook, "sha256": sha256(area / notebook)},
           "inputs": [{"id": r.dataset_id, "version": r.version, "sha256": r.sha256} for r in inputs]}
    doc.update(extra)
    return doc


def slow_notebook(area: Path) -> str:
    """A notebook that sleeps for its ``seconds`` parameter (to cancel jobs while they run)."""
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("seconds = 60\ninputs = {}", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("import time\ntime.sleep(seconds)")],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(nb, area / "slow.ipynb")
    return "slow.ipynb"
