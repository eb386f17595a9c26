"""The package's architecture, checked by import-linter (``[tool.importlinter]`` in pyproject.toml): no import
cycles, the layers store -> federation -> compute -> jobs -> reproducibility -> models -> review -> the web
and the command line, no web framework in the domain, nothing importing the command line. Each contract
is shown to fail on a copy of the tree with one offending import added."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LINT = Path(sys.executable).parent / "lint-imports"


def lint(where: Path) -> subprocess.CompletedProcess:
    done = subprocess.run([str(LINT), "--no-cache"], cwd=where, capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1", "TERM": "dumb"})
    done.stdout = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout)
    return done


def test_the_tree_keeps_every_contract():
    done = lint(REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Contracts: 5 kept, 0 broken." in done.stdout


@pytest.fixture
def tree(tmp_path):
    """A copy of the package, the spawners, the contracts and the custom contract type."""
    shutil.copytree(REPO / "jupyter_vlass", tmp_path / "jupyter_vlass",
                    ignore=shutil.ignore_patterns("labextension", "__pycache__", "*.pt", "*.fits"))
    shutil.copytree(REPO / "spawners" / "vlass_spawners", tmp_path / "vlass_spawners",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "tests").mkdir()
    for name in ("__init__.py", "architecture.py"):
        shutil.copy(REPO / "tests" / name, tmp_path / "tests" / name)
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    assert lint(tmp_path).returncode == 0  # the copy keeps them too: what breaks next is the added import

    def add(module: str, line: str) -> Path:
        path = tmp_path / (module.replace(".", "/") + ".py")
        path.write_text(path.read_text() + f"\n{line}\n")
        return tmp_path

    return add


def test_a_new_cycle_between_modules_fails(tree):
    done = lint(tree("jupyter_vlass.federation.region", "from . import registry as _registry  # noqa"))
    assert done.returncode == 1
    assert re.search(r"A cycle among the modules: .*jupyter_vlass\.federation\.region", done.stdout), done.stdout
    assert "jupyter_vlass.federation.registry" in done.stdout
    assert "Contracts: 4 kept, 1 broken." in done.stdout


def test_a_cycle_between_sibling_packages_fails(tree):
    # the module graph stays acyclic (widgets.browser imports nothing from app); the packages do not
    done = lint(tree("jupyter_vlass.sample_data", "from .widgets import views as _views  # noqa"))
    assert done.returncode == 1
    assert "A cycle among the children of jupyter_vlass" in done.stdout, done.stdout


def test_a_lower_layer_importing_a_higher_one_fails(tree):
    done = lint(tree("jupyter_vlass.store.times", "from ..federation import region as _region  # noqa"))
    assert done.returncode == 1
    assert "jupyter_vlass.store is not allowed to import jupyter_vlass.federation" in done.stdout, done.stdout


def test_the_domain_importing_a_widget_or_the_web_fails(tree):
    tree("jupyter_vlass.models.figure", "import ipywidgets as _w  # noqa")
    done = lint(tree("jupyter_vlass.jobs.staging", "import tornado.web as _web  # noqa"))
    assert done.returncode == 1
    assert "jupyter_vlass.models is not allowed to import ipywidgets" in done.stdout, done.stdout
    assert "jupyter_vlass.jobs is not allowed to import tornado" in done.stdout, done.stdout


def test_importing_the_command_line_fails(tree):
    done = lint(tree("jupyter_vlass.analysis", "from .cli import output as _output  # noqa"))
    assert done.returncode == 1
    assert "jupyter_vlass.analysis is not allowed to import jupyter_vlass.cli" in done.stdout, done.stdout
