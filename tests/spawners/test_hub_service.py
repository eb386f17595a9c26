"""The hub service on a real JupyterHub: it stops promptly however the hub was launched, its HTML form
refuses cookie-authenticated POSTs without the XSRF token, and it needs nothing of the single-user server."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import requests

from tests.hub import Hub
from tests.services import REPO, descendants

pytestmark = pytest.mark.timeout(180)


def test_hub_service_imports_nothing_of_the_single_user_server():
    code = ("import sys, jupyter_vlass.hubservice.app; "
            "print(sorted(m for m in sys.modules if m.startswith(('jupyter_vlass.server', 'jupyter_server'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _commands(pids):
    found = {}
    for pid in pids:
        try:
            found[pid] = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode()
        except OSError:
            pass
    return found


def test_hub_launched_with_sigint_ignored_stops_in_seconds_with_its_service_and_proxy(slurm, job_env, tmp_path):
    """A hub started from a background shell (SIGINT ignored, inherited by everything it starts) used to
    wait out its service's interrupt timeout and leave the service and the proxy behind."""
    os.chmod(tmp_path, 0o755)
    profiles = tmp_path / "profiles.yaml"
    shutil.copy(REPO / "hub_config" / "profiles.yaml", profiles)
    hub = Hub(tmp_path, profiles)
    hub.start(sigint_ignored=True)
    try:
        children = _commands(descendants(hub.process.pid))
        service = [p for p, c in children.items() if "jupyter_vlass.hubservice" in c]
        proxy = [p for p, c in children.items() if "configurable-http-proxy" in c]
        assert service and proxy, children
        started = time.monotonic()
        hub.process.send_signal(signal.SIGTERM)  # the hub alone, as a process manager would
        hub.process.wait(30)
        stopped_in = time.monotonic() - started
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _commands(service + proxy):
            time.sleep(0.1)
        assert _commands(service + proxy) == {}, "the service or the proxy outlived the hub"
        # JupyterHub waits up to 10 s for a service that ignores SIGINT before it escalates.
        assert stopped_in < 8, f"the hub took {stopped_in:.1f} s to stop"
    finally:
        hub.stop()


def _login(hub, name: str) -> requests.Session:
    browser = hub.login(name)
    page = browser.get(f"{hub.url}/services/vlass/approvals", timeout=30)  # OAuth round trip
    assert page.ok and "Compute requests" in page.text, page.text[:500]
    return browser


def test_cookie_authenticated_decisions_need_the_xsrf_token(hub):
    browser = _login(hub, "vlt-admin")
    url = f"{hub.url}/services/vlass/approvals"
    forged = browser.post(url, data={"id": "999999", "decision": "approve"}, timeout=30, allow_redirects=False)
    assert forged.status_code == 403, forged.text
    token = browser.cookies.get("_xsrf", path="/services/vlass/") or browser.cookies.get("_xsrf")
    assert token
    honest = browser.post(url, data={"id": "999999", "decision": "approve", "_xsrf": token}, timeout=30,
                          allow_redirects=False)
    # past the XSRF check and the login: the service looked the request up and found none
    assert honest.status_code == 404 and honest.json()["reason"] == "unknown_approval", honest.text
    api = browser.post(f"{url.rsplit('/', 1)[0]}/api/approvals/999999", json={"decision": "approve"}, timeout=30)
    assert api.status_code == 403  # the JSON API behind a cookie needs the token too
