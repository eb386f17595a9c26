"""The discovery notebook against the seeded sample registry (``make demo``'s own configuration runs all three
in test_demo.py; ``03-consensus`` with the CNN on the Slurm GPU partition runs in the browser through the hub in
tests/spawners/test_hub_journey.py)."""

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
