"""A researcher's day on the real hub, in headless Chromium: JupyterHub with configurable-http-proxy, the local
Slurm, the hub service; screenshots of each step in ``test-artifacts/``.

alice is new to the hub (nothing of hers set up): she signs in at the hub's login page, starts JupyterLab on the
A100 profile (a Slurm job) from a spawn form that shows her balance and the chosen profile's fields alone; finds
the sample VLASS tile, the CosmicAI curation and the TACC object with the datasets sidebar and opens the tile's
pinned bytes from inserted code; finds the example notebooks in her home; runs ``03-consensus`` (the classical
model on her server, the CNN on the Slurm GPU partition) and follows both jobs in the Jobs panel (GPUs, elapsed
against the limit, the node); a second submission of the same analysis comes from the cache; on the overlay she
sees the agree and conflict layers on the offline sky, shows one model alone, clicks a detection and votes as an
expert; she publishes through the Publish dialog (the consensus score and the gate, the manifest, then the signed
capsule and its citation) and finds it in the gallery.

A step that fails says which step it was and what the page showed (and leaves its screenshot)."""

from __future__ import annotations

import json
import pwd
import re
import shutil
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from jupyter_vlass.sample_data import build_hips

from tests.browser import run_in_kernel, shot
from tests.hub import own_hub
from tests.overlay_steps import click_and_vote, layers_drawn, one_run_alone, watch_page
from tests.services import REPO

pytestmark = pytest.mark.timeout(1200)
ALICE = "vlt-alice"
EXAMPLES = sorted(p.name for p in (REPO / "notebooks").glob("*.ipynb"))
TILE_REGION = ("209.25", "-18.0", "0.5")
# The user's own JupyterLab settings (what anyone may set in their home): the app object in the page for the
# test to drive, no news prompt over the page, every cell rendered (windowing detaches cells out of view).
LAB_SETTINGS = {
    ".jupyter/jupyter_server_config.json": {"LabApp": {"expose_app_in_browser": True}},
    ".jupyter/lab/user-settings/@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        {"fetchNews": "false"},
    ".jupyter/lab/user-settings/@jupyterlab/notebook-extension/tracker.jupyterlab-settings":
        {"windowingMode": "none"},
}


@pytest.fixture
def shared(sample_data):
    """What `make job-env` puts in the job environment's share/jupyter-vlass (the sample with its HiPS), in a folder every account reads
    (the suite's own job environment is shared by other tests, and pytest's temporary folders are root's)."""
    folder = Path(tempfile.mkdtemp(prefix="vlass-share-"))
    (folder / "notebooks").mkdir()
    for name in EXAMPLES:
        shutil.copy(REPO / "notebooks" / name, folder / "notebooks" / name)
    root = sample_data["vlass"].parent
    for part in ("vlass", "packages", "tacc"):
        shutil.copytree(root / part, folder / "sample" / part)
    build_hips(sample_data["tile_v1"], folder / "sample" / "hips" / "vlass-ql")  # as `make sample-data` does
    subprocess.run(["chmod", "-R", "a+rX", str(folder)], check=True)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def new_to_the_hub(user: str) -> Path:
    """``user``'s home as if they never used the hub, with their own JupyterLab settings (:data:`LAB_SETTINGS`)."""
    home = Path(pwd.getpwnam(user).pw_dir)
    for left in (".local/share/jupyter-vlass", "vlass-examples", ".jupyter", ".cache/jupyter-vlass"):
        shutil.rmtree(home / left, ignore_errors=True)
    for untitled in home.glob("Untitled*.ipynb"):
        untitled.unlink()
    for name, doc in LAB_SETTINGS.items():
        text = json.dumps(doc)
        subprocess.run(["runuser", "-u", user, "--", "sh", "-c", 'mkdir -p "$(dirname "$1")" && printf %s "$2" > "$1"',
                        "sh", str(home / name), text], check=True)
    return home


@contextmanager
def step(page, number: int, what: str):
    """One step of the day: on failure, its screenshot and an error saying which step and what the page showed."""
    try:
        yield
    except Exception as error:
        try:
            shot(page, f"journey-{number}-failed")
            shown = page.inner_text("body")[:1500]
        except Exception as unreadable:  # the page itself is gone
            shown = f"(the page could not be read: {unreadable!r})"
        raise AssertionError(f"step {number} ({what}) failed: {error!r}\nthe page showed: {shown}") from error


def test_a_researchers_day(slurm, job_env, tmp_path, shared, page):
    home = new_to_the_hub(ALICE)
    with own_hub(tmp_path / "hub", users=(ALICE,), VLASS_EXAMPLES=str(shared / "notebooks"),
                 VLASS_SAMPLE=str(shared / "sample"), JUPYTER_VLASS_JOBS_CONFIG="", VLASS_DEMO_EXPERTS=ALICE) as hub:
        hub.user(ALICE, allocation=1000.0)
        started = time.monotonic()
        with step(page, 1, "alice signs in and starts JupyterLab on the A100 profile"):
            sign_in_and_start(hub, page, ALICE, "tacc-a100")
            server = hub.wait_ready(ALICE)
            assert server["state"]["child_state"]["job_id"] and server["user_options"]["profile"] == "tacc-a100"
        token = hub.token_for(ALICE)
        base = f"{hub.url}/user/{ALICE}/vlass/api"
        headers = {"Authorization": f"token {token}"}
        with step(page, 2, "the datasets sidebar finds the three sources; the tile opens from inserted code"):
            sources_synced(base, headers)
            search_in_sidebar(page)
            opened = open_from_inserted_code(page)
            described = requests.get(f"{base}/datasets/{opened['id']}", headers=headers, timeout=60).json()
            [record] = [v for v in described["versions"] if v["version"] == opened["version"]]
            assert record["sha256"] == opened["sha256"], (record, opened)  # the bytes checked are the registry's
            examples_in_home(home)
        seen = watch_page(page, hub.url, "/vlass/hips/")  # from before the overlay is drawn: every sky tile
        with step(page, 3, "03-consensus runs both models; the Jobs panel follows them; the cache answers again"):
            tile = run_consensus_notebook(page, home)
            jobs = jobs_in_panel(page, base, headers)
            answered_from_the_cache(page, base, headers, jobs)
            refused_without_a_project(page, home)
        with step(page, 4, "the overlay: both layers on the offline sky, one model alone, a click, a vote"):
            layers_drawn(page, seen)
            one_run_alone(page, "classical@local")
            latest = lambda: hub.service("GET", f"/api/consensus/{tile['id']}", params={"version": tile["version"]},
                                         token=token).json()
            click_and_vote(page, home / "vlass-examples", latest, ["classical@local", "cnn@slurm"])
            shot(page, "journey-4-overlay-voted")
        with step(page, 5, "publish through the dialog: the gate, the manifest, the capsule and its citation"):
            capsule_id = publish_in_dialog(page, jobs["slurm"], tile)
            in_the_gallery(page, hub, capsule_id, tile)
        print(f"the day's steps 1-5 took {time.monotonic() - started:.1f} s")
        with step(page, 8, "a later start keeps her edit, brings back a deleted example, registers nothing twice"):
            a_later_start(hub, home, base, headers)


def sign_in_and_start(hub, page, user: str, profile: str) -> None:
    """The hub's login page, then the spawn form: the user's balance, the chosen profile's fields alone with their
    limits and its expected start; submitted, JupyterLab."""
    page.goto(f"{hub.url}/hub/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", "vlass-demo")
    page.click("#login_submit")
    page.wait_for_load_state()
    page.goto(f"{hub.url}/hub/spawn")
    form = page.inner_text("form")
    balance = hub.service("GET", f"/api/allocations/{user}").json()  # Slurm's accounting keeps earlier runs' use
    assert balance["granted_su"] == 1000.0, balance
    assert f"{balance['available_su']:.1f} SU left of 1000.0" in form, (form, balance)
    assert re.search(r"Run on TACC: A100 x1.*\((starts now|expected start [^)]+)\)", form), form
    page.select_option("#vlass-profile", profile)
    shown = [f.get_attribute("data-profile") for f in page.query_selector_all(".vlass-fields") if f.is_visible()]
    assert shown == [profile], shown
    assert "GPUs: 0 to" in page.inner_text(f"#{profile}-gpus-limit")
    page.fill(f"input[name='{profile}.gpus']", "1")
    page.fill(f"input[name='{profile}.walltime']", "1h")
    shot(page, "journey-1-spawn-form")
    page.click("form button[type=submit]")
    page.wait_for_url(f"{hub.url}/user/{user}/lab*", timeout=180_000)
    page.wait_for_function("() => !!window.jupyterapp", timeout=90_000)
    page.evaluate("() => window.jupyterapp.started.then(() => window.jupyterapp.restored)")
    page.locator(".jp-Launcher").wait_for(timeout=60_000)  # a new user's JupyterLab opens on the launcher
    shot(page, "journey-1-lab")


def sources_synced(base: str, headers: dict) -> None:
    """The sample sources are registered and synced in the background of the server's first start."""
    deadline, found = time.monotonic() + 120, {}
    while time.monotonic() < deadline:
        found = requests.get(f"{base}/datasets", params={"region": ",".join(TILE_REGION)}, headers=headers,
                             timeout=60).json()
        if {s["name"] for s in found.get("sources", [])} >= {"vlass", "cosmicai", "tacc"} and found.get("total"):
            return
        time.sleep(1)
    raise AssertionError(f"the sample sources were not synced in 120 s: {found}")


def search_in_sidebar(page) -> None:
    page.click(".jp-SideBar [data-id='jupyter-vlass-search']")
    for name, value in zip(("lon", "lat", "radius"), TILE_REGION):
        page.fill(f".jp-VlassSearch-{name}", value)
    page.click(".jp-VlassSearch-submit")
    page.wait_for_function("() => document.querySelector('.jp-VlassSearch').dataset.state === 'done'", timeout=60_000)
    found = page.locator(".jp-VlassSearch-hit").evaluate_all("nodes => nodes.map(n => n.dataset.datasetId)")
    assert {d.split(":")[0] for d in found} >= {"vlass", "cosmicai", "tacc"}, found
    boxes = [page.locator(f".jp-VlassSearch-{part}").bounding_box() for part in ("previous", "count", "next")]
    middles = [b["y"] + b["height"] / 2 for b in boxes]
    assert max(middles) - min(middles) < 4, boxes  # "‹ Prev … Next ›" on one line
    shot(page, "journey-2-datasets")


def open_from_inserted_code(page) -> dict:
    """A new notebook; the code to open the VLASS tile inserted from its hit, run: the pinned sha256 checked, its
    HDUs listed. Returns the tile's {id, version, sha256}."""
    page.evaluate("""async () => {
        const panel = await window.jupyterapp.commands.execute('notebook:create-new', {kernelName: 'python3'});
        await panel.sessionContext.ready;
    }""")
    hit = page.locator(".jp-VlassSearch-hit[data-dataset-id^='vlass:VLASS2.2']").first
    tile_id = hit.get_attribute("data-dataset-id")
    hit.locator(".jp-VlassSearch-insert").click()
    cell = page.locator(".jp-Notebook .jp-Cell", has_text="registry.get(")
    cell.wait_for(timeout=30_000)
    source = page.evaluate("() => window.jupyterapp.shell.currentWidget.content.activeCell.model.sharedModel"
                           ".getSource()")
    version = re.search(r"registry\.get\('[^']+', version='([^']+)'\)", source).group(1)
    sha256 = re.search(r"hexdigest\(\) != '([0-9a-f]{64})'", source).group(1)  # the pinned bytes, checked
    assert f"registry.get({tile_id!r}, version={version!r})" in source and "# Cite: " in source, source
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-cell')")
    cell.locator(".jp-OutputArea-output", has_text="PrimaryHDU").wait_for(timeout=90_000)
    shot(page, "journey-2-tile-opened")
    return {"id": tile_id, "version": version, "sha256": sha256}


def examples_in_home(home: Path) -> None:
    folder = home / "vlass-examples"
    assert sorted(p.name for p in folder.glob("*.ipynb")) == EXAMPLES
    for name in EXAMPLES:
        assert (folder / name).read_bytes() == (REPO / "notebooks" / name).read_bytes()
        assert (folder / name).owner() == home.owner()


NOTEBOOK_STATE = """() => {
    const cells = window.journeyNotebook.content.model.cells, found = {ran: 0, code: 0, errors: [], text: ''};
    for (let i = 0; i < cells.length; i++) {
        const cell = cells.get(i);
        if (cell.type !== 'code') continue;
        found.code += 1;
        found.ran += cell.executionCount !== null && !window.journeyNotebook.content.widgets[i].node
            .querySelector('.jp-InputPrompt').textContent.includes('*');
        for (const out of cell.outputs.toJSON()) {
            if (out.output_type === 'error') found.errors.push(out.ename + ': ' + out.evalue);
            found.text += (out.text || '') + ((out.data || {})['text/plain'] || '') + '\\n';
        }
    }
    return found;
}"""


def to_the_notebook(page) -> None:
    """Back to the tab of ``03-consensus`` (the Jobs panel opens in the main area too)."""
    page.evaluate("() => window.jupyterapp.shell.activateById(window.journeyNotebook.id)")


def run_consensus_notebook(page, home: Path) -> dict:
    """``03-consensus`` from her home, opened and run top to bottom as she would (Run All), while the Jobs panel
    shows its jobs; to its last cell, every cell without an error. Returns the consensus it recorded: result
    number, dataset id and version."""
    page.evaluate("""async () => {
        const panel = await window.jupyterapp.commands.execute('docmanager:open',
                                                               {path: 'vlass-examples/03-consensus.ipynb'});
        await panel.context.ready;
        await panel.sessionContext.ready;
        window.journeyNotebook = panel;
        window.jupyterapp.commands.execute('notebook:run-all-cells');
    }""")
    page.evaluate("() => window.jupyterapp.commands.execute('jupyter-vlass:open-jobs')")
    seen_running, deadline, state = False, time.monotonic() + 600, {}
    while time.monotonic() < deadline:
        if not seen_running and page.locator(".jp-VlassJobs-row.jp-VlassJobs-running").count():
            shot(page, "journey-3-jobs-running")
            seen_running = True
        state = page.evaluate(NOTEBOOK_STATE)
        assert not state["errors"], f"a cell of 03-consensus failed: {state['errors']}"
        if state["ran"] == state["code"]:
            break
        time.sleep(2)
    else:
        raise AssertionError(f"03-consensus did not reach its last cell in 600 s: {state}")
    said = state["text"]
    recorded = re.search(r"consensus #(\d+) of (vlass:\S+)@(\S+)", said)
    assert recorded, said[-3000:]
    flat = " ".join(said.split()).replace("[ ", "[").replace("{ ", "{")
    assert "'classical': 'j" in flat and " on slurm'" in flat and "'failed': []" in flat, flat[:3000]
    assert "'pixels': {'runs': ['classical@local', 'cnn@slurm'], 'agree': " in flat, flat[:3000]  # the class maps
    assert "passes: consensus score" in said and "published capsule" in said, said[-3000:]
    assert (home / "vlass-examples" / "consensus.png").stat().st_size > 50_000  # the static figure
    to_the_notebook(page)
    shot(page, "journey-3-notebook-done")
    return {"result": int(recorded.group(1)), "id": recorded.group(2), "version": recorded.group(3)}


def jobs_in_panel(page, base: str, headers: dict) -> dict:
    """The Jobs panel lists both runs of the notebook: state, site, GPUs, elapsed against the limit, where it ran.
    Returns the job ids by site."""
    listed = requests.get(f"{base}/jobs", headers=headers, timeout=60).json()["jobs"]
    runs = {j["site"]: j for j in listed if j["notebook"] == "detect-sources.ipynb"}
    assert set(runs) == {"local", "slurm"} and all(j["state"] == "done" for j in runs.values()), listed
    page.evaluate("() => window.jupyterapp.commands.execute('jupyter-vlass:open-jobs')")
    for site, job in runs.items():
        row = page.locator(f"tr[data-job-id='{job['id']}']")
        row.locator("td", has_text=re.compile("^done$")).wait_for(timeout=30_000)
        gpus, used = row.locator(".jp-VlassJobs-gpus").inner_text(), row.locator(".jp-VlassJobs-time").inner_text()
        if site == "slurm":
            assert gpus == "A100 x1" and re.fullmatch(r"\d+:\d\d / 1:00:00", used), (gpus, used)
        else:
            assert gpus == "–" and re.fullmatch(r"\d+:\d\d", used), (gpus, used)
        assert row.locator(".jp-VlassJobs-why").inner_text().startswith(f"computed on the {site} site")
    row = page.locator(f"tr[data-job-id='{runs['slurm']['id']}']")
    row.click()
    page.locator(".jp-VlassJobs-files", has_text="detections.ecsv").wait_for(timeout=30_000)
    assert page.locator(".jp-VlassJobs-log").inner_text().strip()
    assert page.locator(".jp-VlassJobs-serverLogs").is_visible()  # her server's own start, on the cluster
    shot(page, "journey-3-jobs-panel")
    return {site: job["id"] for site, job in runs.items()}


def answered_from_the_cache(page, base: str, headers: dict, jobs: dict) -> None:
    """The same analysis submitted again (from the notebook's kernel) is answered from the cache: no compute."""
    to_the_notebook(page)
    # the same analysis delivered elsewhere: another job, the same result key (as 02-analysis-jobs does it)
    run_in_kernel(page, "again = submit('detect-sources.ipynb', inputs=[tile], parameters={'model': local_model}, "
                        "site='local', db=db, output='results/classical-again').wait(timeout=60)", timeout_s=120)
    listed = requests.get(f"{base}/jobs", headers=headers, timeout=60).json()["jobs"]
    again = [j for j in listed if j["notebook"] == "detect-sources.ipynb" and j["id"] not in jobs.values()]
    assert len(again) == 1 and again[0]["cached_from"] and again[0]["state"] == "done", again
    page.evaluate("() => window.jupyterapp.commands.execute('jupyter-vlass:open-jobs')")
    page.locator(f"tr[data-job-id='{again[0]['id']}'] td", has_text="(cached on").wait_for(timeout=30_000)
    to_the_notebook(page)


def refused_without_a_project(page, home: Path) -> None:
    """With no project to charge (her server's setting removed in her kernel), no job runs at all."""
    run_in_kernel(page, "\n".join([
        "import os",
        "from jupyter_vlass.exceptions import VlassError",
        "project = os.environ.pop('JUPYTER_VLASS_PROJECT')",
        "try:",
        "    submit('detect-sources.ipynb', inputs=[tile], parameters={'model': local_model, 'threshold': 6.5}, db=db)",
        "    refused = ''",
        "except VlassError as error:",
        "    refused = error.message",
        "os.environ['JUPYTER_VLASS_PROJECT'] = project",
        "open('refused.txt', 'w').write(refused)"]), timeout_s=60)
    assert "charges no project" in (home / "vlass-examples" / "refused.txt").read_text()


def a_later_start(hub, home: Path, base: str, headers: dict) -> None:
    folder = home / "vlass-examples"
    edited, deleted = folder / EXAMPLES[0], folder / EXAMPLES[1]
    subprocess.run(["runuser", "-u", ALICE, "--", "sh", "-c", f"echo ' ' >> '{edited}'; rm '{deleted}'"], check=True)
    mine = edited.read_bytes()
    hub.stop_server(ALICE)
    assert hub.spawn(ALICE, {"profile": "local"}).status_code in (201, 202)
    hub.wait_ready(ALICE)
    deadline = time.monotonic() + 60
    while not deleted.exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert deleted.read_bytes() == (REPO / "notebooks" / deleted.name).read_bytes()
    assert edited.read_bytes() == mine
    sources = requests.get(f"{base}/sources", headers=headers, timeout=60).json()["sources"]
    assert sorted(s["name"] for s in sources) == ["cosmicai", "tacc", "vlass"]  # registered once, not twice


def publish_in_dialog(page, job_id: str, tile: dict) -> str:
    """The Publish dialog for the CNN's run on Slurm: what the gate says (the consensus score against its
    threshold), the manifest; then the capsule, its signature and its citation. Returns the capsule's id."""
    page.evaluate("() => { window.jupyterapp.commands.execute('jupyter-vlass:publish'); }")
    choice = page.locator(".jp-VlassPublish-job")
    choice.wait_for(timeout=30_000)
    choice.select_option(job_id)
    gate = page.locator(".jp-VlassPublish-gate[data-state='passes']")
    gate.wait_for(timeout=60_000)
    said = gate.inner_text()
    assert re.search(rf"Consensus score [01]\.\d\d of {re.escape(tile['id'])}@{tile['version']} "
                     r"\(threshold [01]\.\d\d\): the gate passes", said), said
    manifest = page.locator(".jp-VlassPublish-manifest").inner_text()
    assert tile["id"] in manifest and '"model": "cnn"' in manifest and '"site": "slurm"' in manifest, manifest
    shot(page, "journey-5-publish-dialog")
    page.locator(".jp-Dialog-button.jp-mod-accept").click()
    result = page.locator(".jp-VlassPublish-result")
    result.wait_for(timeout=120_000)
    text = result.inner_text()
    assert text.startswith("Published:"), text
    capsule_id = re.search(r"capsule ([0-9a-f]{64})", text).group(1)
    citation = page.locator(".jp-VlassPublish-citation").inner_text()
    assert citation.startswith(f"Cite as: {ALICE} (") and f"sha256:{capsule_id}" in citation, citation
    shot(page, "journey-5-published")
    page.locator(".jp-Dialog-button.jp-mod-accept").click()
    return capsule_id


def in_the_gallery(page, hub, capsule_id: str, tile: dict) -> None:
    """The hub's gallery lists it, verified, found by the tile's sky region."""
    gallery = page.context.new_page()
    try:
        gallery.goto(f"{hub.url}/services/vlass/gallery?region={','.join(TILE_REGION)}")
        entry = gallery.locator(f"[id='{capsule_id}']")
        entry.wait_for(timeout=30_000)
        text = entry.inner_text()
        assert text.lower().startswith("verified") and tile["id"] in text and ALICE in text, text
        shot(gallery, "journey-5-gallery")
    finally:
        gallery.close()
