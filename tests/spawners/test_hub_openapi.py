"""Schemathesis over the hub service's OpenAPI spec, on a hub of its own (its POSTs decide and grant)."""

from __future__ import annotations

import pytest

from tests.hub import ADMIN_TOKEN, own_hub
from tests.openapi_fuzz import fuzz
from tests.services import REPO

pytestmark = pytest.mark.timeout(400)


def test_hub_service_api_has_no_server_errors(slurm, job_env, tmp_path):
    with own_hub(tmp_path) as hub:
        sent, failures = fuzz(REPO / "jupyter_vlass" / "hubservice" / "api.yaml", hub.url,
                              {"Authorization": f"token {ADMIN_TOKEN}"})
    assert sent > 100
    assert not failures, f"{len(failures)} of {sent}:\n" + "\n".join(failures[:30])
