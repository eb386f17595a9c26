"""Schemathesis over the hub service's OpenAPI spec, on a hub of its own (its POSTs decide and grant)."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.hub import ADMIN_TOKEN, Hub
from tests.openapi_fuzz import fuzz
from tests.services import REPO

pytestmark = pytest.mark.timeout(400)


def test_hub_service_api_has_no_server_errors(slurm, job_env, tmp_path):
    os.chmod(tmp_path, 0o755)
    profiles = tmp_path / "profiles.yaml"
    shutil.copy(REPO / "hub_config" / "profiles.yaml", profiles)
    hub = Hub(tmp_path, profiles)
    hub.start()
    try:
        sent, failures = fuzz(REPO / "jupyter_vlass" / "hubservice" / "api.yaml", hub.url,
                              {"Authorization": f"token {ADMIN_TOKEN}"})
    finally:
        hub.stop()
    assert sent > 100
    assert not failures, f"{len(failures)} of {sent}:\n" + "\n".join(failures[:30])
