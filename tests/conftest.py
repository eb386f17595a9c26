pytest_plugins = ["jupyter_server.pytest_plugin", "tests.services", "tests.hub", "tests.leaks", "tests.jobs.jobs_fixtures", "tests.browser"]

import shutil  # noqa: E402

import pytest  # noqa: E402

from jupyter_vlass.federation import Registry  # noqa: E402


@pytest.fixture(scope="session")
def demo_registry_file(sample_data, tmp_path_factory):
    """The three harvested sample sources registered and synced once, in a SQLite file each test copies."""
    path = tmp_path_factory.mktemp("demo-registry") / "registry.sqlite"
    registry = Registry(f"sqlite:///{path}")
    registry.add_source("vlass", "vlass", str(sample_data["vlass"]))
    registry.add_source("curated", "datapackage", str(sample_data["package_1.0.0"].parent.parent.parent))
    registry.add_source("tacc", "posix", str(sample_data["manifest"]))
    reports = registry.sync()
    assert all(r.status == "ok" for r in reports), [r.to_json() for r in reports]
    with registry.engine.connect() as connection:  # everything in the file itself, nothing left in its WAL
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    registry.engine.dispose()
    return path


@pytest.fixture
def registry(tmp_path, request):
    path = tmp_path / "registry.sqlite"
    if "demo_registry" in request.fixturenames:  # the same registry, with the sample synced in
        shutil.copyfile(request.getfixturevalue("demo_registry_file"), path)
    return Registry(f"sqlite:///{path}")


@pytest.fixture
def demo_registry(registry):
    """A registry with the three harvested sample sources, synced (a copy of :func:`demo_registry_file`)."""
    assert sorted(s["name"] for s in registry.sources()) == ["curated", "tacc", "vlass"]
    return registry
