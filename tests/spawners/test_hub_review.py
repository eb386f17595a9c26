"""Expert review on a real hub, through the hub service's REST API and its HTML page, with several users: a
consensus the service computes from a user's recorded detection runs (never one a user writes), votes only with the experts' scope (one per user per detection, an update
when cast again), the publish gate refusing with its reasons and an admin's override recorded with who and
why, controversial analyses, marks, the audit trail verified; the page's forms need the XSRF token."""

from __future__ import annotations

import json
import subprocess
import uuid
from urllib.parse import quote

import pytest
import requests

from astropy.table import Table

from jupyter_vlass.hubservice.config import DECIDE_SCOPE, EXPERTS_GROUP, VOTE_SCOPE
from jupyter_vlass.models.consensus import Run, aggregate
from tests.models.conftest import BEAM_DEG, real  # noqa: F401  (the real catalogue the tile is made from)
from tests.spawners.recorded_runs import detection_tables, record_consensus  # noqa: F401  (a fixture)

pytestmark = pytest.mark.timeout(300)
EXPERT, SECOND, OUTSIDER, ADMIN = "vlt-carol", "vlt-dave", "vlt-erin", "vlt-admin"


def _token(hub, name: str, scopes: list[str]) -> requests.Response:
    return hub.api("POST", f"/users/{name}/tokens", json={"scopes": scopes, "expires_in": 3600})


def sample_pin(call, name: str) -> str:
    """``<id>@<version>`` of the sample's VLASS tile in the hub service's registry, as ``name`` finds it."""
    found = call(name, "GET", "/api/datasets", params={"region": "209.25,-18.0,0.5"}).json()["datasets"]
    tile = next(d for d in found if d["id"].startswith("vlass:"))
    return f"{tile['id']}@{tile['version']}"


def test_votes_gate_overrides_marks_and_audit_through_the_hub(hub, detection_tables):
    for name in (EXPERT, SECOND):
        hub.user(name, groups=(EXPERTS_GROUP,), allocation=None)
    hub.user(OUTSIDER, allocation=None)
    assert _token(hub, OUTSIDER, ["access:services", VOTE_SCOPE]).status_code in (400, 403)  # not an expert
    tokens = {name: _token(hub, name, ["access:services", VOTE_SCOPE]).json()["token"] for name in (EXPERT, SECOND)}
    tokens[OUTSIDER] = _token(hub, OUTSIDER, ["access:services"]).json()["token"]
    tokens[ADMIN] = _token(hub, ADMIN, ["access:services", DECIDE_SCOPE]).json()["token"]

    def call(name, method, path, **kwargs):
        return hub.service(method, path, token=tokens[name], **kwargs)

    dataset, version = f"vlass:review-{uuid.uuid4().hex[:8]}", "v1"
    result_id = record_consensus(hub, OUTSIDER, tokens[OUTSIDER], dataset=dataset, version=version,
                                 tables=detection_tables)["id"]
    expected = aggregate([Run(model, "1.0.0", "local", Table.read(content.decode(), format="ascii.ecsv"))
                          for model, content in detection_tables.items()], radius_deg=BEAM_DEG)
    latest = call(OUTSIDER, "GET", f"/api/consensus/{quote(dataset, safe='')}").json()
    assert latest["id"] == result_id and len(latest["detections"]) == len(expected.table) > 10
    assert latest["created_by"] == OUTSIDER and latest["summary"]["parameters"]["radius_deg"] == BEAM_DEG
    # A consensus is never taken from a client: a hand-written one is refused, and nobody records one from
    # another user's runs; nothing is recorded by either.
    written = {"dataset_id": dataset, "version": version, "summary": {"runs": [{}, {}]},
               "detections": [{"ra": 1.0, "dec": 1.0, "agreement": "agree", "score": 1.0, "score_err": 0.0,
                               "seen_by": "a,b", "kinds": "a:source,b:source", "high_confidence": True}]}
    forged = call(OUTSIDER, "POST", "/api/consensus", json=written)
    assert forged.status_code == 400 and "computed here" in forged.json()["message"], forged.text
    stolen = call(EXPERT, "POST", "/api/consensus", json={"dataset_id": dataset, "version": version,
                                                         "runs": [f"{m}@local" for m in detection_tables],
                                                         "parameters": {"radius_deg": BEAM_DEG}})
    assert stolen.status_code == 409 and stolen.json()["reason"] == "no_recorded_run", stolen.text
    assert call(OUTSIDER, "GET", f"/api/consensus/{quote(dataset, safe='')}").json()["id"] == result_id
    gate = call(OUTSIDER, "GET", "/api/gate", params={"dataset_id": dataset, "version": version}).json()
    assert gate["passed"] and gate["allowed"] and gate["result_id"] == result_id, gate

    # Votes: experts only; one per user per detection; bad input refused.
    votes = f"/api/consensus/results/{result_id}/votes"
    refused = call(OUTSIDER, "POST", votes, json={"detection": 0, "verdict": "confirmed"})
    assert refused.status_code == 403 and VOTE_SCOPE in refused.json()["message"]
    assert call(EXPERT, "POST", votes, json={"detection": 0, "verdict": "confirmed"}).status_code == 200
    changed = call(EXPERT, "POST", votes, json={"detection": 0, "verdict": "false_positive", "comment": "sidelobe"})
    assert changed.json()["votes"] == {"confirmed": 0, "false_positive": 1, "unsure": 0}, changed.text
    for body, status, reason in (({"detection": 10 ** 6, "verdict": "confirmed"}, 404, "unknown_detection"),
                                 ({"detection": 0, "verdict": "maybe"}, 400, "invalid_argument")):
        answer = call(EXPERT, "POST", votes, json=body)
        assert answer.status_code == status and answer.json()["reason"] == reason, answer.text
    missing = call(EXPERT, "POST", "/api/consensus/results/999999999/votes", json={"detection": 0, "verdict": "unsure"})
    assert missing.status_code == 404 and missing.json()["reason"] == "unknown_consensus"

    # The experts sink most solid detections: the gate refuses, saying why.
    solid = [d["detection"] for d in latest["detections"] if d["score"] >= 0.5 and d["high_confidence"]]
    for number in solid[: len(solid) // 2 + 1]:
        for name in (EXPERT, SECOND):
            assert call(name, "POST", votes, json={"detection": number, "verdict": "false_positive"}).ok
    gate = call(OUTSIDER, "GET", "/api/gate", params={"dataset_id": dataset, "version": version}).json()
    assert not gate["allowed"] and any("false positive" in r for r in gate["reasons"]), gate

    # Only an admin overrides, with a reason; who and why are kept.
    override = {"dataset_id": dataset, "version": version, "reason": "experts reviewed an older calibration"}
    assert call(EXPERT, "POST", "/api/gate/overrides", json=override).status_code == 403
    assert call(ADMIN, "POST", "/api/gate/overrides", json={**override, "reason": ""}).status_code == 400
    allowed = call(ADMIN, "POST", "/api/gate/overrides", json=override).json()
    assert allowed["allowed"] and not allowed["passed"] and allowed["override"]["by"] == ADMIN, allowed

    # Disagreement between experts makes the analysis controversial.
    other = next(d["detection"] for d in latest["detections"] if d["detection"] not in solid[: len(solid) // 2 + 1])
    call(EXPERT, "POST", votes, json={"detection": other, "verdict": "confirmed"})
    call(SECOND, "POST", votes, json={"detection": other, "verdict": "false_positive"})
    ranked = call(OUTSIDER, "GET", "/api/controversial", params={"limit": 100}).json()["analyses"]
    mine = next(a for a in ranked if a["id"] == result_id)
    assert mine["disagreement"] > 0 and mine["voted"] >= 2

    # Marks: experts may; what derives from a mark is the service's to follow (tests/spawners/test_hub_jobs.py),
    # never a list the caller chooses; a capsule the hub does not hold is not marked.
    # (a mark names a dataset version of the hub's registry the marker may see: the sample's VLASS tile)
    mark = {"subject": sample_pin(call, OUTSIDER), "mark": "Retracted",
            "explanation": f"cnn 0.2.0 sees none of it ({uuid.uuid4().hex[:8]})"}
    assert call(OUTSIDER, "POST", "/api/marks", json=mark).status_code == 403
    assert call(EXPERT, "POST", "/api/marks", json={**mark, "mark": "Hidden"}).status_code == 400
    assert call(EXPERT, "POST", "/api/marks", json={**mark, "derived": [f"capsule:{'b' * 64}"]}).status_code == 400
    assert call(EXPERT, "POST", "/api/marks", json={**mark, "subject": f"capsule:{'a' * 64}"}).status_code == 404
    assert call(EXPERT, "POST", "/api/marks", json=mark).ok
    [made] = [m for m in call(OUTSIDER, "GET", "/api/marks", params={"subject": mark["subject"]}).json()["marks"]
              if m["explanation"] == mark["explanation"]]
    assert made["because"] is None and made["by"] == EXPERT and made["mark"] == "Retracted"

    # Everything above is in the audit trail, in order, and the chain verifies.
    trail = call(OUTSIDER, "GET", "/api/audit", params={"subject": f"{dataset}@{version}"}).json()["entries"]
    actions = [(e["actor"], e["action"]) for e in trail]
    assert actions[0] == (OUTSIDER, "consensus") and (EXPERT, "vote changed") in actions
    assert (ADMIN, "publish override") in actions
    checked = call(OUTSIDER, "GET", "/api/audit/verify").json()
    assert checked["entries"] >= len(trail) and len(checked["head"]) == 64


def test_review_page_forms_need_the_scope_and_the_xsrf_token(hub, detection_tables):
    hub.user(EXPERT, groups=(EXPERTS_GROUP,), allocation=None)
    hub.user(OUTSIDER, allocation=None)
    token = _token(hub, OUTSIDER, ["access:services"]).json()["token"]
    dataset = f"vlass:review-page-{uuid.uuid4().hex[:8]}"
    result_id = record_consensus(hub, OUTSIDER, token, dataset=dataset, version="v1", tables=detection_tables)["id"]
    url = f"{hub.url}/services/vlass/review"

    expert = hub.login(EXPERT)
    page = expert.get(url, params={"dataset_id": dataset}, timeout=30)
    assert page.ok and f"consensus #{result_id}" in page.text and 'value="confirmed"' in page.text, page.text[:500]
    vote = {"action": "vote", "result": str(result_id), "detection": "1", "verdict": "confirmed",
            "dataset_id": dataset, "version": "v1"}
    forged = expert.post(url, data=vote, timeout=30, allow_redirects=False)
    assert forged.status_code == 403
    xsrf = expert.cookies.get("_xsrf", path="/services/vlass/") or expert.cookies.get("_xsrf")
    honest = expert.post(url, data={**vote, "_xsrf": xsrf}, timeout=30, allow_redirects=False)
    assert honest.status_code == 302, honest.text
    detection = hub.service("GET", f"/api/consensus/{quote(dataset, safe='')}", token=token).json()["detections"][1]
    assert detection["votes"]["confirmed"] == 1

    outsider = hub.login(OUTSIDER)
    page = outsider.get(url, params={"dataset_id": dataset}, timeout=30)
    assert page.ok and 'value="confirmed"' not in page.text  # no forms for someone who may not vote
    xsrf = outsider.cookies.get("_xsrf", path="/services/vlass/") or outsider.cookies.get("_xsrf")
    refused = outsider.post(url, data={**vote, "_xsrf": xsrf}, timeout=30, allow_redirects=False)
    assert refused.status_code == 403 and VOTE_SCOPE in refused.json()["message"]

    # The admin's override form: refused without the token, recorded with it.
    admin = hub.login(ADMIN)
    page = admin.get(url, params={"dataset_id": dataset}, timeout=30)
    assert page.ok and "Publish gate" in page.text
    override = {"action": "override", "dataset_id": dataset, "version": "v1", "reason": "checked by eye"}
    assert admin.post(url, data=override, timeout=30, allow_redirects=False).status_code == 403
    xsrf = admin.cookies.get("_xsrf", path="/services/vlass/") or admin.cookies.get("_xsrf")
    assert admin.post(url, data={**override, "_xsrf": xsrf}, timeout=30, allow_redirects=False).status_code == 302
    gate = hub.service("GET", "/api/gate", token=token, params={"dataset_id": dataset, "version": "v1"}).json()
    assert gate["override"]["by"] == ADMIN and gate["override"]["reason"] == "checked by eye", gate


KERNEL_CALL = """
import json
from jupyter_vlass.exceptions import VlassError
from jupyter_vlass.hub_client import HubServiceClient, service_from_environment
from jupyter_vlass.review.review import HubReview
url, token = service_from_environment()
review = HubReview(HubServiceClient(url, token=token))
try:
    {call}
    print(json.dumps({{"ok": True}}))
except VlassError as error:
    print(json.dumps({{"ok": False, "status": getattr(error, "status", None), "message": str(error)}}))
"""


OPEN_IN_KERNEL = """
import json
try:
    open({path!r}, "rb").read(16)
    print(json.dumps({{"read": True}}))
except OSError as error:
    print(json.dumps({{"read": False, "why": str(error)}}))
"""


SIGN_IN_KERNEL = """
import json, tempfile
from pathlib import Path
from google.protobuf import json_format
from model_signing._signing import signing
from jupyter_vlass.hub_client import HubServiceClient, service_from_environment
from jupyter_vlass.reproducibility.signing import _hashing

def sign_detection_analysis(user, pin):
    # A capsule folder of a run that chose a model, its table named otherwise than detections.ecsv.
    folder = Path(tempfile.mkdtemp())
    (folder / "outputs").mkdir()
    (folder / "outputs" / "found.ecsv").write_text("# a detection table by another name")
    crate = {"@context": "https://w3id.org/ro/crate/1.1/context", "@graph": [
        {"@id": "#agent", "@type": "Person", "name": user},
        {"@id": "#pv-model", "@type": "PropertyValue", "name": "model", "value": "classical"},
        {"@id": "outputs/found.ecsv", "@type": "File", "name": "found.ecsv"},
        {"@id": "file:///data/tile.fits", "@type": "Dataset", "identifier": pin},
        {"@id": "#run", "@type": "CreateAction", "agent": {"@id": "#agent"},
         "actionStatus": {"@id": "http://schema.org/CompletedActionStatus"}}]}
    (folder / "ro-crate-metadata.json").write_text(json.dumps(crate))
    statement = json_format.MessageToJson(signing.Payload(_hashing().hash(folder)).statement.pb)
    url, token = service_from_environment()
    return HubServiceClient(url, token=token).request("POST", "api/capsules/sign", {
        "statement": statement, "crate": (folder / "ro-crate-metadata.json").read_text()})
"""


def test_experts_vote_and_approvers_override_from_their_own_servers(hub, detection_tables):
    """What the overlay, the CLI and `audit recheck` do in a user's server: the server's own hub token acts
    for its user, so an expert's server votes and marks, an approver's overrides, and nobody else's does."""
    hub.user(EXPERT, groups=(EXPERTS_GROUP,), allocation=None)
    hub.user(OUTSIDER, allocation=None)
    recorder = _token(hub, EXPERT, ["access:services", VOTE_SCOPE]).json()["token"]
    dataset, version = f"vlass:review-{uuid.uuid4().hex[:8]}", "v1"
    result_id = record_consensus(hub, EXPERT, recorder, dataset=dataset, version=version,
                                 tables=detection_tables)["id"]
    names = (EXPERT, OUTSIDER, ADMIN)
    if subprocess.run(["id", ADMIN], capture_output=True).returncode != 0:  # the approver's server runs as them
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", ADMIN], check=True)
    for name in names:
        assert hub.spawn(name, {"profile": "local"}).status_code in (201, 202), hub.events(name)
    tokens = {name: hub.token_for(name) for name in names}
    try:
        for name in names:
            hub.wait_ready(name)

        def in_kernel(name, call, prelude=""):
            out = hub.run_in_kernel(name, prelude + KERNEL_CALL.format(call=call), tokens[name])
            return json.loads(out.strip().splitlines()[-1])

        vote = f"review.vote(result_id={result_id}, detection=0, verdict='confirmed')"
        override = f"review.override(dataset_id={dataset!r}, version={version!r}, reason='recalibrated')"
        subject = sample_pin(lambda *a, **k: hub.service(*a[1:], token=recorder, **k), EXPERT)
        mark = f"review.mark(subject={subject!r}, mark='Updated', explanation='a newer calibration')"
        for name, call, allowed in ((OUTSIDER, vote, False), (EXPERT, vote, True),
                                    (OUTSIDER, mark, False), (EXPERT, mark, True),
                                    (EXPERT, override, False), (OUTSIDER, override, False), (ADMIN, override, True)):
            answer = in_kernel(name, call)
            assert answer["ok"] is allowed, (name, call, answer)
            if not allowed:
                assert answer["status"] == 403, (name, call, answer)
        # The service's database (votes, signatures, allocations) is not a file a user's kernel can open;
        # the hub (root here) can.
        database = str(hub.state / "vlass-hub.sqlite")
        opened = json.loads(hub.run_in_kernel(OUTSIDER, OPEN_IN_KERNEL.format(path=database),
                                              tokens[OUTSIDER]).strip().splitlines()[-1])
        assert opened["read"] is False and "Permission denied" in opened["why"], opened
        assert (hub.state / "vlass-hub.sqlite").read_bytes()[:15] == b"SQLite format 3"
        # Nobody's kernel gets a consensus recorded without runs of their own, nor writes one.
        unrun = in_kernel(OUTSIDER, f"review.record(dataset_id={dataset!r}, version={version!r}, consensus="
                                    "{'summary': {'runs': [{'run': 'classical@local'}], 'parameters': "
                                    f"{{'radius_deg': {BEAM_DEG}}}}}, 'detections': []}})")
        assert not unrun["ok"] and unrun["status"] == 409 and "no ended job of yours" in unrun["message"], unrun
        written = in_kernel(OUTSIDER, "HubServiceClient(url, token=token).request('POST', 'api/consensus', "
                                      f"{{'dataset_id': {dataset!r}, 'version': {version!r}, 'summary': {{}}, "
                                      "'detections': []})")
        assert not written["ok"] and written["status"] == 400, written
        # A detection analysis (it chooses a model; its table has any name) is signed only through the gate, which
        # the service evaluates itself: refused for an input without a passing consensus, signed for one with.
        for gated, allowed in ((f"vlass:review-none-{uuid.uuid4().hex[:8]}", False), (dataset, True)):
            answer = in_kernel(OUTSIDER, f"sign_detection_analysis({OUTSIDER!r}, {gated + '@' + version!r})",
                               prelude=SIGN_IN_KERNEL)
            assert answer["ok"] is allowed, (gated, answer)
            if not allowed:
                assert answer["status"] == 403 and "publishing refused" in answer["message"], answer
        signed = hub.service("GET", "/api/audit", params={"subject": f"{dataset}@{version}"}, token=recorder).json()
        assert [e["actor"] for e in signed["entries"] if e["action"] == "signed"] == [OUTSIDER]
        votes = hub.service("GET", f"/api/consensus/{quote(dataset, safe='')}", token=recorder).json()
        assert votes["detections"][0]["votes"] == {"confirmed": 1, "false_positive": 0, "unsure": 0}, votes
        trail = hub.service("GET", "/api/audit", params={"subject": f"{dataset}@{version}"}, token=recorder).json()
        actors = [(e["actor"], e["action"]) for e in trail["entries"]]
        assert (EXPERT, "vote") in actors and (ADMIN, "publish override") in actors, actors
        assert [action for actor, action in actors if actor == OUTSIDER] == ["signed"]  # no vote, mark or override
    finally:
        for name in names:
            hub.stop_server(name)
