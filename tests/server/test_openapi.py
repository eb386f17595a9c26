"""Schemathesis over the server extension's OpenAPI spec, against a real ``jupyter server`` process."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import requests

from tests.openapi_fuzz import fuzz
from tests.services import REPO, free_port, stop_process_group

TOKEN = "openapi-fuzz-token"
pytestmark = pytest.mark.timeout(600)


@pytest.fixture
def server_url(tmp_path, demo_registry, data_server, job_accounts):
    demo_registry.add_source("vo", "sia2", f"{data_server.url}/sia2")
    port = free_port()
    config = tmp_path / "jupyter_server_config.py"
    config.write_text(
        "c = get_config()\n"
        "c.ServerApp.jpserver_extensions = {'jupyter_vlass': True}\n"
        f"c.ServerApp.ip, c.ServerApp.port, c.ServerApp.open_browser = '127.0.0.1', {port}, False\n"
        f"c.ServerApp.root_dir = {str(tmp_path)!r}\n"
        f"c.IdentityProvider.token = {TOKEN!r}\n"
        f"c.VlassApp.db_url = {demo_registry.engine.url.render_as_string(hide_password=False)!r}\n"
        f"c.VlassApp.cache_dir = {str(tmp_path / 'cache')!r}\n"
        "c.ServerApp.allow_root = True\n"
        f"c.VlassApp.job_account = {job_accounts[0]!r}\n"
        f"c.VlassApp.jobs_dir = {str(tmp_path / 'jobs')!r}\n"
        "c.VlassApp.deadline = 2.0\n")
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path), "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    log = open(tmp_path / "server.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "jupyter_server", f"--config={config}"], env=env, cwd=tmp_path,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{url}/api/status", headers={"Authorization": f"token {TOKEN}"}, timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "server.log").read_text()[-3000:]
            time.sleep(0.2)
        yield url
    finally:
        stop_process_group(proc, timeout=10)
        log.close()


def test_server_extension_api_has_no_server_errors(server_url, tmp_path):
    sent, failures = fuzz(REPO / "jupyter_vlass" / "server" / "api.yaml", server_url,
                          {"Authorization": f"token {TOKEN}"})
    assert sent > 100
    assert not failures, f"{len(failures)} of {sent}:\n" + "\n".join(failures[:30])
