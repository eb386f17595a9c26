"""The demo hub out of the box stops an idle server after its timeout (a new user's first day on the hub is
``test_hub_journey``)."""

from __future__ import annotations

import time

import pytest

from tests.hub import own_hub

pytestmark = pytest.mark.timeout(300)


def test_an_idle_server_is_stopped_after_the_timeout(slurm, job_env, tmp_path):
    name = "vlt-erin"
    with own_hub(tmp_path / "hub", users=(name,), VLASS_IDLE_TIMEOUT="10") as hub:
        assert "Starting managed service idle-culler" in (hub.workdir / "hub.log").read_text()
        hub.user(name)
        assert hub.spawn(name, {"profile": "local"}).status_code in (201, 202)
        hub.wait_ready(name)
        ready = time.monotonic()
        time.sleep(3)
        assert hub.server(name) is not None  # not before its 10 s
        while hub.server(name) is not None and time.monotonic() < ready + 60:
            time.sleep(0.5)
        assert hub.server(name) is None, "the idle server was not stopped within 60 s"
        assert time.monotonic() - ready >= 8


