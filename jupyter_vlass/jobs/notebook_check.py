"""The notebook a manifest names: inside the user's area, the bytes the manifest pins, and only the
parameters its ``parameters`` cell declares (as papermill reads them), each of the declared type; and the
folder its results go to: inside the user's area too, and not a file, when submitted and when delivered."""

from __future__ import annotations

import ast
from pathlib import Path

from ..exceptions import InvalidManifest, VlassError
from .manifest import JobManifest
from .outputs import copy_out
from .staging import sha256_file

RESERVED = frozenset({"inputs", "dask_scheduler"})  # filled in by the job: the staged inputs, the Dask cluster
# A declared type (the annotation papermill reads, else the default's literal) -> what JSON value it takes.
KINDS = {"float": ((int, float), "a float"), "int": ((int,), "an integer"), "str": ((str,), "a string"),
         "bool": ((bool,), "a boolean"), "list": ((list, tuple), "a list"), "dict": ((dict,), "an object")}
LITERALS = {float: "float", int: "int", str: "str", bool: "bool", list: "list", tuple: "list", dict: "dict"}
JSON_NAMES = {bool: "a boolean", int: "an integer", float: "a float", str: "a string", list: "a list",
              dict: "an object", type(None): "null"}


def declared_kind(parameter: dict) -> str | None:
    """The type a parameter is declared with: papermill's inferred type (its annotation), else the type of
    its default's literal; None when it takes anything (a default of ``None``, an expression)."""
    inferred = parameter.get("inferred_type_name")
    if inferred in KINDS:
        return inferred
    try:
        default = ast.literal_eval(parameter.get("default") or "None")
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    return LITERALS.get(type(default))


def check_value(name: str, value: object, parameter: dict) -> None:
    """Refuse ``value`` for parameter ``name`` when it is not of the declared type (an integer is a float)."""
    kind = declared_kind(parameter)
    if kind is None:
        return
    kinds, said = KINDS[kind]
    if isinstance(value, bool) and kind != "bool" or not isinstance(value, kinds):
        got = JSON_NAMES.get(type(value), type(value).__name__)
        raise InvalidManifest(f"manifest $.parameters.{name}: the notebook declares {said} "
                              f"({name} = {str(parameter.get('default'))[:40]}), got {got}")


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
        check_value(name, manifest.parameters[name], declared[name])
    if manifest.dask and "dask_scheduler" not in declared:
        raise InvalidManifest("manifest $.dask: the notebook's parameters cell does not declare 'dask_scheduler'")
    if manifest.inputs and "inputs" not in declared:
        raise InvalidManifest("manifest $.inputs: the notebook's parameters cell does not declare 'inputs'")
    return path


def check_output(root: Path, manifest: JobManifest) -> Path | None:
    """The folder the results are delivered to, resolved: inside the user's area (a link out of it is
    refused, as for the notebook) and no file on the way; None when the manifest names none."""
    if manifest.output_path is None:
        return None
    target = (root / manifest.output_path).resolve()
    if not target.is_relative_to(root):
        raise InvalidManifest("manifest $.output.path: leaves your area (through a link)")
    for folder in (target, *target.parents):
        if folder == root:
            break
        if folder.exists() and not folder.is_dir():
            raise InvalidManifest(f"manifest $.output.path: {folder.relative_to(root).as_posix()!r} is a file, "
                                  "not a folder for the results")
    return target


def deliver(root: Path, manifest: JobManifest, location: Path, files: list[dict]) -> str | None:
    """A job's results beside the notebook, at the manifest's output path (copies: the cache's copy stays the
    cache's), checked again now; None, or why they could not be delivered (the path became a file, or leads out of the area)."""
    if manifest.output_path is None:
        return None
    try:
        target = check_output(root, manifest)
        for item in files:
            destination = target / item["name"]
            destination.parent.mkdir(parents=True, exist_ok=True)
            if not destination.parent.resolve().is_relative_to(root):
                raise InvalidManifest(f"{item['name'][:80]!r} would leave your area (through a link)")
            copy_out(location, item["name"], destination)
    except (OSError, VlassError) as error:
        why = error.message if isinstance(error, VlassError) else (error.strerror or str(error))
        return f"the results could not be delivered to {manifest.output_path}: {why}"
    return None
