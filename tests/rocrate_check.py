"""The third-party RO-Crate validator (``roc-validator``), offline.

Its offline mode reads JSON-LD contexts from its HTTP cache only. The RO-Crate 1.1 context is seeded
from the context that ships inside the ``rocrate`` wheel (1.3), with the four terms 1.1 maps differently
(ComputationalWorkflow, FormalParameter, input, output: ``https://bioschemas.org/<term>`` in 1.1,
``https://bioschemas.org/terms/<term>`` in 1.3) mapped as 1.1 maps them (TESTING.md).
"""

from __future__ import annotations

import importlib.resources
import io
import json
import subprocess
import sys
from pathlib import Path

CONTEXT_URL = "https://w3id.org/ro/crate/1.1/context"
BIOSCHEMAS_1_1 = ("ComputationalWorkflow", "FormalParameter", "input", "output")


def context_1_1() -> dict:
    document = json.loads(importlib.resources.files("rocrate").joinpath("data/ro-crate.jsonld").read_text())
    for term in BIOSCHEMAS_1_1:
        document["@context"][term] = f"https://bioschemas.org/{term}"
    return document


def seed_cache(cache: Path) -> Path:
    import requests
    import requests_cache
    import urllib3

    body = json.dumps(context_1_1()).encode()
    session = requests_cache.CachedSession(str(cache), backend="sqlite", expire_after=-1)
    response = requests.Response()
    response.status_code, response._content, response.url = 200, body, CONTEXT_URL
    response.request = requests.Request("GET", CONTEXT_URL).prepare()
    response.headers["Content-Type"] = "application/ld+json"
    response.raw = urllib3.HTTPResponse(body=io.BytesIO(body), headers={"Content-Type": "application/ld+json"},
                                        status=200, preload_content=False, request_url=CONTEXT_URL)
    session.cache.save_response(response)
    session.close()
    return cache


def validate(crate_dir: Path, cache: Path, profile: str = "workflow-run-crate-0.5") -> dict:
    """The validator's JSON report (``passed``, ``issues``) for the crate in ``crate_dir``."""
    validator = str(Path(sys.executable).parent / "rocrate-validator")
    done = subprocess.run([validator, "validate", "-p", profile, "--offline", "--cache-path", str(cache), "-f", "json",
                           "--no-paging", str(crate_dir)], capture_output=True, text=True, timeout=300)
    try:
        return json.loads(done.stdout)
    except ValueError:
        raise AssertionError(f"rocrate-validator said: {done.stderr[-2000:]}") from None
