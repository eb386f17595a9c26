"""The notebook a manifest names: inside the user's area, the bytes the manifest pins, and only the
parameters its ``parameters`` cell declares (as papermill reads them)."""

from __future__ import annotations

from pathlib import Path

from ..exceptions import InvalidManifest
from .manifest import JobManifest
from .staging import sha256_file

RESERVED = frozenset({"inputs", "dask_scheduler"})  # filled in by the job: the staged inputs, the Dask cluster


def declared_parameters(path: Path) -> dict[str, dict]:
    """papermill's view of the notebook's parameters cell: name -> {inferred_type_name, default, help}."""
    import papermill

    try:
        return dict(papermill.inspect_notebook(str(path)))
    except Exception as error:  # nbformat / papermill: an unreadable notebook
        raise InvalidManifest(f"manifest $.notebook.path: cannot read it as a notebook ({type(error).__name__})") from None


def check_notebook(root: Path, manifest: JobManifest) -> Path:
    path = (root / manifest.notebook_path).resolve()
    if not path.is_relative_to(root):
        raise InvalidManifest("manifest $.notebook.path: leaves your area (through a link)")
    if not path.is_file():
        raise InvalidManifest(f"manifest $.notebook.path: no notebook {manifest.notebook_path!r} in your area")
    actual = sha256_file(path)
    if actual != manifest.notebook_sha256:
        raise InvalidManifest(f"manifest $.notebook.sha256: the notebook's bytes have sha256 {actual}, "
                              "not the one pinned (it changed since the manifest was written)")
    declared = declared_parameters(path)
    if not declared:
        raise InvalidManifest("manifest $.notebook.path: the notebook has no cell tagged 'parameters'")
    for name in manifest.parameters:
        if name in RESERVED:
            raise InvalidManifest(f"manifest $.parameters.{name}: set by the job (from $.inputs or $.dask), "
                                  "not by hand")
        if name not in declared:
            raise InvalidManifest(f"manifest $.parameters.{name}: the notebook does not declare it "
                                  f"(declared: {', '.join(sorted(set(declared) - RESERVED)) or 'none'})")
    if manifest.dask and "dask_scheduler" not in declared:
        raise InvalidManifest("manifest $.dask: the notebook's parameters cell does not declare 'dask_scheduler'")
    if manifest.inputs and "inputs" not in declared:
        raise InvalidManifest("manifest $.inputs: the notebook's parameters cell does not declare 'inputs'")
    return path
