"""What a manifest is refused for before anything runs: parameter values of another type than the notebook's
parameters cell declares (as papermill infers it), and an output path that names a file or leaves the
user's area through a link. Refused in Python (InvalidManifest naming the field), by the CLI (exit 2)."""

from __future__ import annotations

import json
import subprocess
import sys

import nbformat
import pytest

from jupyter_vlass.exceptions import InvalidManifest
from jupyter_vlass.jobs.jobs import Jobs
from jupyter_vlass.jobs.sites import LocalSite
from tests.hub import JOB_ENV
from tests.jobs.jobs_fixtures import manifest

pytestmark = pytest.mark.timeout(300)
DECLARED = """threshold = 5.0     # float
box_pixels = 64     # int
model = "classical"
verbose = False
bands = [1, 2]
limits = {"a": 1}
db = None           # anything
inputs = {}
"""


@pytest.fixture
def typed(area):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(DECLARED, metadata={"tags": ["parameters"]}),
                                         nbformat.v4.new_code_cell('open("summary.txt", "w").write(f"{threshold} {box_pixels}")')],
                                  metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nbformat.write(nb, area / "typed.ipynb")
    return "typed.ipynb"


@pytest.fixture
def jobs(registry, area, job_env, job_accounts):
    site = LocalSite(python=str(JOB_ENV / "bin" / "python"), account=job_accounts[0])
    return Jobs(registry, sites={"local": site}, root=area, owner="alice", jobs_dir=area / "jobs")


@pytest.mark.parametrize("name, value, said", [
    ("threshold", "abc", "a float"), ("threshold", True, "a float"), ("threshold", [5.0], "a float"),
    ("box_pixels", [64], "an integer"), ("box_pixels", 64.5, "an integer"), ("box_pixels", "64", "an integer"),
    ("model", 3, "a string"), ("verbose", "yes", "a boolean"), ("bands", "1,2", "a list"),
    ("limits", [1], "an object"),
])
def test_a_value_of_another_type_than_declared_is_refused(jobs, area, typed, name, value, said):
    with pytest.raises(InvalidManifest, match=rf"\$\.parameters\.{name}: the notebook declares {said}"):
        jobs.submit(manifest(area, notebook=typed, parameters={name: value}))
    assert jobs.list(refresh=False) == [], "nothing was submitted"


def test_values_of_the_declared_types_are_taken(jobs, area, typed):
    """The positive control: every declared type given its own kind of value (an int where a float is
    declared too, and anything where the default is None)."""
    job = jobs.submit(manifest(area, notebook=typed, parameters={
        "threshold": 4, "box_pixels": 32, "model": "cnn", "verbose": True, "bands": [3], "limits": {},
        "db": "sqlite:///x.db"}))
    status = job.wait(timeout=120).status()
    assert status["state"] == "done", (status, job.log())


def test_the_cli_refuses_a_mistyped_parameter_with_exit_2(registry, area, typed, job_env, job_accounts):
    config = area / "jobs.yaml"
    config.write_text(json.dumps({"sites": {"local": {"kind": "local", "python": str(JOB_ENV / "bin" / "python")}},
                                  "jobs_dir": str(area / "jobs"), "account": job_accounts[0]}))
    (area / "job.json").write_text(json.dumps(manifest(area, notebook=typed, parameters={"threshold": "high"})))
    db = registry.engine.url.render_as_string(hide_password=False)
    done = subprocess.run([sys.executable, "-m", "jupyter_vlass.cli", "--db", db, "jobs", "submit",
                           str(area / "job.json"), "--config", str(config), "--root", str(area)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "$.parameters.threshold: the notebook declares a float" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_output_path_that_names_a_file_is_refused(jobs, area, typed):
    (area / "results.txt").write_text("a file the user keeps")
    with pytest.raises(InvalidManifest, match=r"\$\.output\.path: .*results\.txt.* is a file"):
        jobs.submit(manifest(area, notebook=typed, output={"path": "results.txt"}))
    assert (area / "results.txt").read_text() == "a file the user keeps"
    with pytest.raises(InvalidManifest, match=r"\$\.output\.path: .* is a file"):
        jobs.submit(manifest(area, notebook=typed, output={"path": "results.txt/deeper"}))


def test_an_output_path_through_a_link_out_of_the_area_is_refused(jobs, area, typed, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (area / "elsewhere").symlink_to(outside)
    with pytest.raises(InvalidManifest, match=r"\$\.output\.path: leaves your area \(through a link\)"):
        jobs.submit(manifest(area, notebook=typed, output={"path": "elsewhere/results"}))
    assert list(outside.iterdir()) == []
    (area / "inside").symlink_to(area / "kept")  # a link that stays inside the area is fine
    (area / "kept").mkdir()
    job = jobs.submit(manifest(area, notebook=typed, output={"path": "inside/results"}))
    assert job.wait(timeout=120).status()["state"] == "done"
    assert (area / "kept" / "results").is_dir()
