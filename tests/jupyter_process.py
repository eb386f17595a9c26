"""A real Jupyter server (``jupyter_server`` or ``jupyterlab``) in a process of its own, with this
project's extension configured for the test, stopped with everything it started."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import requests

from tests.services import free_port, stop_process_group

TOKEN = "vlass-tests-jupyter-token"


@contextmanager
def jupyter(app: str, workdir: Path, *, root: Path, vlass: dict, extra: str = ""):
    """Yield the server's URL. ``app``: ``jupyter_server`` or ``jupyterlab``; ``vlass``: VlassApp traits."""
    port = free_port()
    config = workdir / "jupyter_config.py"
    lines = ["c = get_config()",
             "c.ServerApp.jpserver_extensions = {'jupyter_vlass': True}",
             f"c.ServerApp.ip, c.ServerApp.port, c.ServerApp.open_browser = '127.0.0.1', {port}, False",
             f"c.ServerApp.root_dir = {str(root)!r}", f"c.IdentityProvider.token = {TOKEN!r}",
             "c.ServerApp.allow_root = True"]
    lines += [f"c.VlassApp.{name} = {value!r}" for name, value in vlass.items()]
    config.write_text("\n".join(lines) + "\n" + extra)
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(workdir), "JUPYTER_RUNTIME_DIR": str(workdir / "runtime")}
    log = open(workdir / f"{app}.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", app, f"--config={config}"], env=env, cwd=workdir,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if requests.get(f"{url}/api/status", headers={"Authorization": f"token {TOKEN}"}, timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, (workdir / f"{app}.log").read_text()[-3000:]
            time.sleep(0.2)
        yield url
    finally:
        stop_process_group(proc, timeout=10)
        log.close()
