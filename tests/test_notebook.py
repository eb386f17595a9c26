"""The notebooks against the seeded sample registry: the discovery notebook, and the consensus notebook with
the CNN on the local Slurm's GPU partition (``make demo``'s own configuration runs all three in test_demo.py)."""

from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).parents[1] / "notebooks" / "01-discover-datasets.ipynb"


def _outputs(nb) -> str:
    """Every text output of an executed notebook; fails on any error output."""
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert "error" not in {o.get("output_type") for o in outputs}
    return "\n".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", ""))
                     + str(o.get("data", {}).get("text/html", "")) for o in outputs)


def test_discovery_notebook_finds_real_datasets(demo_registry, tmp_path):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    url = demo_registry.engine.url.render_as_string(hide_password=False)
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    params.source += f"\ndb = {url!r}\n"
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = _outputs(nb)
    assert "dataset versions in" in outputs  # the rendered result table
    assert "sha256:" in outputs and "brightest pixel" in outputs


def test_consensus_notebook_runs_two_models_records_draws_votes_and_publishes(slurm, demo_registry, area, job_env,
                                                                            job_accounts, monkeypatch, tmp_path):
    """``03-consensus``: the classical detector as a job here and the CNN as a job on the local Slurm's GPU
    partition, on the sample tile; their consensus recorded, the overlay widget and the static figure made,
    a vote, and publishing through the gate (the two models agree well enough on this tile: it publishes)."""
    import json
    import shutil

    from tests.hub import JOB_ENV
    from tests.services import REPO

    config = area / "jobs.yaml"
    config.write_text(json.dumps({"sites": {"local": {"kind": "local", "python": str(JOB_ENV / "bin" / "python")},
                                            "slurm": {"kind": "slurm", "environment": str(JOB_ENV),
                                                      "poll_interval": 1.0}},
                                  "profiles": str(REPO / "hub_config" / "profiles.yaml"),
                                  "jobs_dir": str(area / "jobs"), "account": job_accounts[0]}))
    monkeypatch.setenv("JUPYTER_VLASS_JOBS_CONFIG", str(config))
    monkeypatch.setenv("JUPYTER_VLASS_CAPSULES", str(tmp_path / "capsules"))
    monkeypatch.setenv("JUPYTER_VLASS_KEYS", str(tmp_path / "keys"))
    for name in ("03-consensus.ipynb", "detect-sources.ipynb"):
        shutil.copy(NOTEBOOK.parent / name, area)
    nb = nbformat.read(area / "03-consensus.ipynb", as_version=4)
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    params.source += f"\ndb = {demo_registry.engine.url.render_as_string(hide_password=False)!r}\n"
    NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(area)}}).execute()
    outputs = _outputs(nb)
    assert "'cnn': 'j" in outputs and " on slurm'" in outputs and "'classical': 'j" in outputs, outputs[:1500]
    assert "'failed': []" in outputs
    flat = " ".join(outputs.split()).replace("[ ", "[").replace("{ ", "{")
    assert "'pixels': {'runs': ['classical@local', 'cnn@slurm'], 'agree': " in flat, flat[:3000]  # the jobs' class maps
    assert "consensus #1 of vlass:VLASS2.2.ql.T08t20.J135700-180000@v1" in outputs
    assert "passes: consensus score" in outputs and "published capsule" in outputs, outputs[-2000:]
    assert (area / "consensus.png").stat().st_size > 50_000
    viewer = [o for c in nb.cells for o in c.get("outputs", []) if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert viewer, "the overlay widget was displayed"
