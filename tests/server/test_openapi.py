"""Schemathesis over the server extension's OpenAPI spec, against a real ``jupyter server`` process."""

from __future__ import annotations

import pytest

from tests.jupyter_process import TOKEN, jupyter
from tests.openapi_fuzz import fuzz
from tests.services import REPO

pytestmark = pytest.mark.timeout(600)


@pytest.fixture
def server_url(tmp_path, demo_registry, data_server, job_accounts):
    demo_registry.add_source("vo", "sia2", f"{data_server.url}/sia2")
    vlass = {"db_url": demo_registry.engine.url.render_as_string(hide_password=False),
             "cache_dir": str(tmp_path / "cache"), "deadline": 2.0, "job_account": job_accounts[0],
             "jobs_dir": str(tmp_path / "jobs")}
    with jupyter("jupyter_server", tmp_path, root=tmp_path, vlass=vlass) as url:
        yield url


def test_server_extension_api_has_no_server_errors(server_url, tmp_path):
    sent, failures = fuzz(REPO / "jupyter_vlass" / "server" / "api.yaml", server_url,
                          {"Authorization": f"token {TOKEN}"})
    assert sent > 100
    assert not failures, f"{len(failures)} of {sent}:\n" + "\n".join(failures[:30])
