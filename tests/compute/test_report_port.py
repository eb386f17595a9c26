"""The in-job launcher: a free port reported to the hub with the server's token, then the server exec'd."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from jupyter_vlass.compute import report_port
from jupyter_vlass.compute.batch import render_batch_script
from tests.compute.test_batch import SPEC, request_  # noqa: F401  (fixture)

CODE = open(report_port.__file__).read()


class _Hub(BaseHTTPRequestHandler):
    status = 201
    seen: list[tuple[str, str, dict]] = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Hub.seen.append((self.path, self.headers["Authorization"], body))
        self.send_response(_Hub.status)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture()
def hub_api():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Hub.seen, _Hub.status = [], 201
    yield f"http://127.0.0.1:{server.server_address[1]}/hub/api"
    server.shutdown()


def _launch(hub_api, *argv, service_url="http://node7:1/user/vlt-alice/"):
    env = {"PATH": os.environ["PATH"], "JUPYTERHUB_API_URL": hub_api, "JUPYTERHUB_API_TOKEN": "s3cret",
           "JUPYTERHUB_SERVICE_URL": service_url}
    return subprocess.run([sys.executable, "-c", CODE, *argv], env=env, capture_output=True, text=True, timeout=30)


def test_reports_a_free_port_with_the_token_then_becomes_the_server(hub_api):
    done = _launch(hub_api, "sh", "-c", 'echo "$JUPYTERHUB_SERVICE_URL $0"', "ran")
    assert done.returncode == 0, done.stderr
    [(path, auth, body)] = _Hub.seen
    assert path == "/hub/api/batchspawner" and auth == "token s3cret" and set(body) == {"port"}
    assert done.stdout.split() == [f"http://node7:{body['port']}/user/vlt-alice/", "ran"]
    assert 1024 <= body["port"] <= 65535


def test_without_a_service_url_the_port_goes_on_the_command_line(hub_api):
    done = _launch(hub_api, "echo", service_url="")
    assert done.stdout.strip() == f"--port={_Hub.seen[0][2]['port']}"


def test_a_refused_report_stops_before_the_server_runs(hub_api):
    _Hub.status = 403
    done = _launch(hub_api, "sh", "-c", "echo server-started")
    assert done.returncode != 0 and "server-started" not in done.stdout and "403" in done.stderr


def test_the_batch_script_carries_the_launcher_text_exactly(request_, tmp_path):  # noqa: F811
    script = render_batch_script(request_, replace(SPEC, command=["jupyterhub-singleuser"], report_port=True))
    assert re.search(r'^srun python3 -c "\$VLASS_REPORT_PORT" jupyterhub-singleuser$', script, re.M)
    start = script.index("read -r -d ''")
    end = script.index("VLASS_REPORT_PORT_END\n", script.index("<<'VLASS_REPORT_PORT_END'") + 30)
    probe = tmp_path / "probe.sh"
    probe.write_text("set -euo pipefail\n" + script[start:end] + 'VLASS_REPORT_PORT_END\nprintf %s "$VLASS_REPORT_PORT"\n')
    carried = subprocess.run(["bash", str(probe)], capture_output=True, text=True, check=True).stdout
    assert carried == CODE.rstrip("\n")
    assert "VLASS_REPORT_PORT" not in render_batch_script(request_, SPEC)
