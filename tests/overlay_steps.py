"""What a person checks on the consensus overlay in JupyterLab, in headless Chromium: Aladin Lite loaded offline,
the agree (green) and conflict (yellow) layers drawn on the sky (counted in a screenshot), one run alone toggled
on and off, a click on an agreed detection showing what each run said there, and an expert's vote recorded.

Shared by the overlay test of a plain JupyterLab and the researcher's day on the hub; the notebook in the main
area has run, and its kernel holds the ``viewer`` (a :class:`~jupyter_vlass.widgets.overlay.ConsensusViewer`)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tests.browser import run_in_kernel


def colour_pixels(png: bytes) -> dict:
    from io import BytesIO

    from PIL import Image

    rgb = np.asarray(Image.open(BytesIO(png)).convert("RGB")).astype(int)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    # agree: (0, 230, 0); conflict: (255, 215, 0); both also faint (uncertain) over the dark sky
    return {"green": int(((g > 80) & (r < 40) & (b < 40)).sum()),
            "yellow": int(((r > 80) & (g > 0.6 * r) & (g <= r) & (b < 40)).sum())}


def watch_page(page, origin: str, sky: str) -> dict:
    """Console lines, requests that left ``origin`` and the HiPS tiles of ``sky`` (a path part) served."""
    seen = {"console": [], "outside": [], "tiles": []}
    page.on("console", lambda m: seen["console"].append(f"{m.type}: {m.text}"[:300]))
    page.on("pageerror", lambda e: seen["console"].append(f"pageerror: {e}"[:600]))
    page.on("request", lambda r: seen["outside"].append(r.url) if not r.url.startswith(origin) and
            not r.url.startswith(("blob:", "data:")) else None)
    page.on("response", lambda r: seen["tiles"].append(r.url) if sky in r.url and r.ok else None)
    return seen


def layers_drawn(page, seen: dict) -> None:
    """Aladin Lite has loaded (the layers are sent then) and draws the sky and both kinds of region, offline."""
    page.locator(".aladin-widget canvas").first.wait_for(timeout=120_000)
    deadline, loaded = time.monotonic() + 120, None  # software WebGL on a busy machine is slow
    while time.monotonic() < deadline:
        try:
            run_in_kernel(page, "assert viewer.aladin._is_loaded", timeout_s=30, again=True)
            loaded = True
            break
        except Exception as error:
            loaded = error
            time.sleep(1)
    assert loaded is True, (loaded, seen["console"][-20:])
    deadline, found = time.monotonic() + 90, {}
    while time.monotonic() < deadline:
        found = colour_pixels(page.locator(".aladin-widget").first.screenshot())
        if found["green"] > 50 and found["yellow"] > 20:
            break
        time.sleep(1)
    assert found["green"] > 50 and found["yellow"] > 20, (found, seen["tiles"][:3], seen["outside"][:3],
                                                          seen["console"][-20:])
    assert not seen["outside"], seen["outside"][:5]
    assert any(re.search(r"/Norder\d+/Dir\d+/Npix\d+\.", url) for url in seen["tiles"]), seen["tiles"][:5]


def one_run_alone(page, run: str) -> None:
    """The toggle shows ``run`` (``model@site``) alone: the consensus colours go; then all runs again."""
    run_in_kernel(page, f"viewer.mode.value = {run!r}", again=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        alone = colour_pixels(page.locator(".aladin-widget").first.screenshot())
        if alone["green"] < 10 and alone["yellow"] < 10:
            break
        time.sleep(1)
    assert alone["green"] < 10 and alone["yellow"] < 10, alone
    run_in_kernel(page, "viewer.mode.value = 'all runs'", again=True)


def click_and_vote(page, folder: Path, latest: Callable[[], dict], runs: list[str]) -> int:
    """Click an agreed, high-confidence detection in view (where it is on the screen from the view's own WCS,
    the kernel writing it to ``folder``, its working directory): its details name every run's call; vote it
    confirmed; the vote is in ``latest()`` (the recorded consensus). Returns the detection's number."""
    run_in_kernel(page, "\n".join([
        "import json, time",
        "from astropy.coordinates import SkyCoord",
        "time.sleep(2)",
        "wcs, (w, h) = viewer.aladin.wcs, viewer.aladin.wcs.pixel_shape",
        "inside = [(d['detection'], *map(float, wcs.world_to_pixel(SkyCoord(d['ra'], d['dec'], unit='deg'))))",
        "          for d in viewer.doc['detections'] if d['agreement'] == 'agree' and d['high_confidence']]",
        "inside = [p for p in inside if 60 < p[1] < w - 60 and 60 < p[2] < h - 60]",
        "open('pixel.json', 'w').write(json.dumps([*inside[0], w, h]))"]), again=True)
    number, x, y, width, height = json.loads((folder / "pixel.json").read_text())
    before = latest()["detections"][number]
    assert before["high_confidence"], before
    view = page.locator(".aladin-widget").first
    view.scroll_into_view_if_needed()
    box = view.bounding_box()
    for row in (height - 1 - y, y):  # the view's WCS counts rows up from the bottom edge, or down from the top
        page.mouse.click(box["x"] + x * box["width"] / width, box["y"] + row * box["height"] / height)
        try:
            page.locator(".widget-html", has_text=f"Detection {number} ").wait_for(timeout=5_000)
            break
        except Exception:
            continue
    text = page.locator(".widget-html", has_text=f"Detection {number} ").first.inner_text()
    assert "agree" in text and all(f"{run}: source" in text for run in runs), text
    page.locator(".widget-toggle-button", has_text="confirmed").first.click()
    page.locator(".widget-button", has_text="Vote").first.click()
    try:
        page.locator(".widget-html", has_text="Recorded: confirmed").wait_for(timeout=30_000)
    except Exception:
        run_in_kernel(page, "import json; open('state.json', 'w').write(json.dumps([viewer.verdict.value, "
                            "viewer.message.value, viewer.send.disabled, viewer.selected and viewer.selected['detection']]))")
        raise AssertionError((folder / "state.json").read_text())
    voted = latest()["detections"][number]
    assert voted["votes"]["confirmed"] == before["votes"].get("confirmed", 0) + 1, voted
    return number
