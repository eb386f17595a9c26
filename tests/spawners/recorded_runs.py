"""Detection runs recorded at a real hub service the way a user's server records them, so that the service can
compute a consensus from them: the job authorized (charged to the user's project), then reported ended with the
sha256 of its detection table and the table's bytes. A user's kernel can make these calls itself: what they
earn it is a consensus the service computed from tables it checked, never one the user wrote."""

from __future__ import annotations

import base64
import hashlib
import io
import uuid

import pytest

from jupyter_vlass.compute.ledger import Ledger
from jupyter_vlass.models.classical import ClassicalDetector
from jupyter_vlass.models.images import open_image
from jupyter_vlass.models.synthetic import make_tile, write_tile
from jupyter_vlass.store import make_engine, session_factory
from tests.models.conftest import BEAM_DEG

RUNS = {"classical": 5.0, "classical-7sigma": 7.0}  # model -> the detector's threshold


@pytest.fixture(scope="module")
def detection_tables(real, tmp_path_factory):
    """``{model: ECSV bytes}``: two detectors' tables of one tile synthesized from the real RACS catalogue."""
    image, header, _, _ = make_tile(real["racs_components"], ra=209.25, dec=-18.0, pixels=1024, seed=5)
    path = tmp_path_factory.mktemp("review") / "tile.fits"
    write_tile(path, image, header)
    tile = open_image(path)
    tables = {}
    for model, threshold in RUNS.items():
        table = ClassicalDetector(threshold=threshold).detect(tile)
        table.meta = {"model": model, "version": "1.0.0"}
        out = io.StringIO()
        table.write(out, format="ascii.ecsv")
        tables[model] = out.getvalue().encode()
    return tables


def member(hub, user: str) -> None:
    """What the spawner does at each start: ``user`` charges their own project (granted an allocation here)."""
    engine = make_engine(hub.db_url)
    try:
        Ledger(session_factory(engine), cluster="local").add_member(user, user)
    finally:
        engine.dispose()
    hub.service("POST", f"/api/allocations/{user}", json={"granted_su": 1000.0}).raise_for_status()


def run_reports(user: str, dataset: str, version: str, tables: dict, site: str = "local") -> list[tuple[dict, dict]]:
    """The authorize and outputs bodies a user's server sends for one job per model in ``tables``."""
    bodies = []
    for model, content in tables.items():
        job = {"project": user, "job_id": f"j{uuid.uuid4().hex[:16]}.1", "site": site,
               "notebook": "vlass-examples/detect-sources.ipynb", "inputs": [[dataset, version]],
               "parameters": {"model": model}}
        authorize = {**job, "site_kind": "local", "profile": None, "resources": {}}
        report = {**job, "state": "done", "cached": False,
                  "outputs": {"detections.ecsv": hashlib.sha256(content).hexdigest()},
                  "evidence": {"detections.ecsv": base64.b64encode(content).decode()}}
        bodies.append((authorize, report))
    return bodies


def record_consensus(hub, user: str, token: str, *, dataset: str, version: str, tables: dict) -> dict:
    """Record one job per model of ``tables`` as ``user``, then have the service compute their consensus."""
    member(hub, user)
    for authorize, report in run_reports(user, dataset, version, tables):
        for path, body in (("/api/jobs/authorize", authorize), ("/api/jobs/outputs", report)):
            answer = hub.service("POST", path, token=token, json=body)
            assert answer.ok, (path, answer.text)
    answer = hub.service("POST", "/api/consensus", token=token, json={
        "dataset_id": dataset, "version": version, "runs": [f"{m}@local" for m in tables],
        "parameters": {"radius_deg": BEAM_DEG}})
    assert answer.status_code == 200, answer.text
    return answer.json()
