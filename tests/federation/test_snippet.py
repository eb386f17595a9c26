"""The code the search sidebar inserts: it opens the pinned bytes of real sample datasets when run, refuses
other bytes, and no dataset metadata can add a line to it."""

from __future__ import annotations

import ast
import dataclasses
import os
import subprocess
import sys

import pytest

from jupyter_vlass.federation.snippet import comment, open_code

TILE = "vlass:VLASS2.2.ql.T08t20.J135700-180000"
FIRST = "tacc:first/J105007+304037.fits"


def _run(code: str, registry, tmp_path) -> subprocess.CompletedProcess:
    script = tmp_path / "cell.py"
    script.write_text(code)
    env = {**os.environ, "JUPYTER_VLASS_DB": registry.engine.url.render_as_string(hide_password=False)}
    return subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)


@pytest.mark.parametrize("dataset_id", [TILE, FIRST])
def test_inserted_code_opens_the_pinned_fits(demo_registry, tmp_path, dataset_id):
    record = demo_registry.get(dataset_id)
    code = open_code(record)
    assert record.sha256 and repr(record.sha256) in code and f"version={record.version!r}" in code
    assert code.splitlines()[1].startswith("# Cite: ") and record.uri in code.splitlines()[1]
    done = _run(code, demo_registry, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "PrimaryHDU" in done.stdout  # hdul.info() of the real file


def test_inserted_code_refuses_bytes_that_are_not_the_pinned_ones(demo_registry, tmp_path):
    record = demo_registry.get(TILE)
    code = open_code(dataclasses.replace(record, sha256="0" * 64))
    done = _run(code, demo_registry, tmp_path)
    assert done.returncode != 0 and "not the pinned ones" in done.stderr


def test_metadata_cannot_add_code(demo_registry):
    record = demo_registry.get(TILE)
    hostile = dataclasses.replace(record, title="x\nimport os; os.system('true')\r\u2028y",
                                  dataset_id="a'); import os; ('", access_format="text/plain")
    code = open_code(hostile)
    tree = ast.parse(code)
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                for alias in node.names}
    assert imported == {"hashlib", "Registry"}  # the title's "import os" stayed in a comment
    call = next(n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "get")
    assert call.args[0].value == hostile.dataset_id  # the id is one string literal
    assert comment("a\n\tb\x1b[31m") == "# a b [31m"
