"""Headless Chromium (Debian's) through Python playwright, a fresh browser and page per test.

Never ``playwright install``: the browser is ``/usr/bin/chromium`` from the distribution. The browser is
started after pytest-jupyter's event loop and stopped before it (playwright's sync API marks its own loop
as running between calls, and that loop must never be the one pytest-jupyter closes).
"""

from __future__ import annotations

import json
import shutil
import tempfile

import pytest

from tests.services import require

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def browser(jp_asyncio_loop):
    require(shutil.which("chromium") is not None, "Chromium (Debian package chromium)")
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="vlass-chromium-")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, args=ARGS,
                                                                headless=True)
        try:
            yield context
        finally:
            context.close()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(browser):
    tab = browser.new_page()
    try:
        yield tab
    finally:
        tab.close()


def open_lab(page, url: str, token: str) -> None:
    """JupyterLab at ``url``, loaded and its app object exposed (``--LabApp.expose_app_in_browser``)."""
    page.goto(f"{url}/lab?reset&token={token}")
    page.wait_for_function("() => !!window.jupyterapp", timeout=90_000)
    page.evaluate("() => window.jupyterapp.started.then(() => window.jupyterapp.restored)")


class KernelTimeout(AssertionError):
    """Code sent to the notebook's kernel got no reply in time; the message says the kernel's state."""


def run_in_kernel(page, code: str, *, timeout_s: float = 90, again: bool = False) -> None:
    """Run ``code`` in the kernel of the notebook in the main area (the one its widgets talk to), to the end.

    No reply within ``timeout_s`` raises :class:`KernelTimeout` with the kernel's status and connection (a
    reply lost while the page's kernel websocket reconnects otherwise hangs the test until pytest-timeout).
    ``again``: the code may run twice (it only reads or sets state), so on a timeout interrupt the kernel and
    send it once more before giving up."""
    for attempt in range(2 if again else 1):
        state = page.evaluate("""async ([code, ms]) => {
            const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
            const future = kernel.requestExecute({code});
            const late = new Promise(resolve => setTimeout(() => resolve(null), ms));
            const reply = await Promise.race([future.done, late]);
            if (reply === null) {
                future.dispose();
                return {late: true, status: kernel.status, connection: kernel.connectionStatus};
            }
            return {late: false, status: reply.content.status, error: reply.content.evalue || ''};
        }""", [code, int(timeout_s * 1000)])
        if not state["late"]:
            if state["status"] != "ok":
                raise AssertionError(f"kernel: {state['error'] or state['status']}")
            return
        if attempt == 0 and again:
            page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.interrupt()")
    raise KernelTimeout(f"no reply from the kernel in {timeout_s:g} s (kernel {state['status']}, "
                        f"connection {state['connection']}) to: {code[:200]!r}")


@pytest.fixture
def lab_environment(tmp_path) -> dict:
    """Environment of the ``lab`` fixture's server; a test module overrides this fixture to add to it."""
    return {}


@pytest.fixture
def lab(tmp_path, area, demo_registry, job_env, job_accounts, lab_environment, monkeypatch):
    """JupyterLab (the extension, the sample registry, the local job site) serving ``area``; yields its URL."""
    from tests.hub import JOB_ENV
    from tests.jupyter_process import jupyter

    monkeypatch.setenv("PYTHONFAULTHANDLER", "1")  # a kernel that crashes says where, in jupyterlab.log
    for name, value in lab_environment.items():
        monkeypatch.setenv(name, value)
    vlass = {"db_url": demo_registry.engine.url.render_as_string(hide_password=False),
             "job_sites": {"local": {"kind": "local", "python": str(JOB_ENV / "bin" / "python")}},
             "job_account": job_accounts[0], "jobs_dir": str(area / "jobs")}
    extra = "c.LabApp.expose_app_in_browser = True\nc.LabApp.news_url = None\n"
    # No news popup over the page, and every cell rendered (JupyterLab's windowing detaches cells out of view).
    settings = tmp_path / "lab-settings"
    settings.mkdir(exist_ok=True)
    (settings / "overrides.json").write_text(json.dumps({
        "@jupyterlab/apputils-extension:notification": {"fetchNews": "false"},
        "@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"}}))
    extra += f"c.LabApp.app_settings_dir = {str(settings)!r}\n"
    with jupyter("jupyterlab", tmp_path, root=area, vlass=vlass, extra=extra) as url:
        yield url


ARTIFACTS_ENV = "VLASS_TEST_ARTIFACTS"


def shot(page, name: str) -> None:
    """A full-page screenshot kept as a test artifact (``$VLASS_TEST_ARTIFACTS``, else ``test-artifacts/`` in the
    checkout): what a person would have seen at that step, when a later assertion fails."""
    import os
    from pathlib import Path

    folder = Path(os.environ.get(ARTIFACTS_ENV) or Path(__file__).resolve().parent.parent / "test-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
