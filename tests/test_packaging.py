"""The installed extensions and plugins, as `jupyter ... list` reports them."""

import re
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

BIN = Path(sys.executable).parent


def test_server_extension_enabled_and_ok():
    out = subprocess.run([str(BIN / "jupyter"), "server", "extension", "list"], capture_output=True, text=True)
    text = out.stdout + out.stderr
    line = next(line for line in text.splitlines() if "jupyter_vlass" in line and "OK" in line)
    assert "0.1.0" in line


def test_labextension_ok():
    out = subprocess.run([str(BIN / "jupyter"), "labextension", "list"], capture_output=True, text=True)
    text = out.stdout + out.stderr
    assert any("jupyter-vlass" in line and "enabled" in line and "OK" in line for line in text.splitlines())


def test_source_plugins_are_entry_points():
    names = {ep.name for ep in entry_points(group="jupyter_vlass.sources")}
    assert {"vlass", "datapackage", "s3manifest", "posix", "sia2"} <= names


def test_openapi_lists_the_routes():
    import yaml

    spec = yaml.safe_load((Path(__file__).parents[1] / "jupyter_vlass" / "server" / "api.yaml").read_text())
    assert spec["openapi"].startswith("3.")
    from jupyter_vlass.server.routes import handlers

    documented = set(spec["paths"])
    for pattern, _ in handlers():
        normalized = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", pattern).replace("{source_name}", "{source}")
        assert normalized in documented, pattern


def test_spawners_are_jupyterhub_entry_points_and_build_as_their_own_wheel(tmp_path):
    spawners = {ep.name: ep.value for ep in entry_points(group="jupyterhub.spawners")}
    assert spawners["vlass-slurm"] == "vlass_spawners.slurm:VlassSlurmSpawner"
    assert spawners["vlass-profiles"] == "vlass_spawners.profiles:VlassProfilesSpawner"
    repo = Path(__file__).resolve().parent.parent
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(tmp_path), str(repo / "spawners")], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    import zipfile
    names = zipfile.ZipFile(next(tmp_path.glob("vlass_spawners-*.whl"))).namelist()
    assert "vlass_spawners/templates/options_form.html.j2" in names and "vlass_spawners/slurm.py" in names


def test_batch_template_ships_in_the_package():
    from importlib.resources import files
    assert files("jupyter_vlass.compute").joinpath("templates/jupyter.sbatch.j2").is_file()


def test_hub_service_routes_are_documented():
    import yaml

    from jupyter_vlass.hubservice.app import make_app

    spec = yaml.safe_load((Path(__file__).parents[1] / "jupyter_vlass" / "hubservice" / "api.yaml").read_text())
    app = make_app(db_url="sqlite://")
    import tornado.web

    # the hub's own static files (the layout's styles) are served, not an API: tornado adds them for static_path
    patterns = [rule.matcher.regex.pattern.rstrip("$") for rule in app.wildcard_router.rules
                if rule.target is not tornado.web.StaticFileHandler]
    documented = {re.sub(r"\{\w+\}", "([^/]+)", path) for path in spec["paths"]}
    assert patterns and set(patterns) == documented
