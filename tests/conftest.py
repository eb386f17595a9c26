pytest_plugins = ["jupyter_server.pytest_plugin", "tests.services", "tests.hub", "tests.leaks", "tests.jobs.jobs_fixtures", "tests.browser"]

import pytest  # noqa: E402

from jupyter_vlass.federation import Registry  # noqa: E402


@pytest.fixture
def registry(tmp_path):
    return Registry(f"sqlite:///{tmp_path / 'registry.sqlite'}")


@pytest.fixture
def demo_registry(registry, sample_data):
    """A registry with the three harvested sample sources, synced."""
    registry.add_source("vlass", "vlass", str(sample_data["vlass"]))
    registry.add_source("curated", "datapackage", str(sample_data["package_1.0.0"].parent.parent.parent))
    registry.add_source("tacc", "posix", str(sample_data["manifest"]))
    reports = registry.sync()
    assert all(r.status == "ok" for r in reports), [r.to_json() for r in reports]
    return registry
