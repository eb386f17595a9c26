"""Schemathesis over an OpenAPI spec against a running server: valid and invalid requests for every
operation; what comes back is every answer that broke the contract (a 5xx, or an error that is not JSON)."""

from __future__ import annotations

from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode


def fuzz(spec: Path, base_url: str, headers: dict[str, str], *, examples: int = 15,
         json_errors: tuple[str, ...] = ("/api/",)) -> tuple[int, list[str]]:
    """``(requests sent, failures)``. Errors under a path containing one of ``json_errors`` must be
    JSON ``{message, reason}``. Deterministic (derandomized), so a failure reproduces."""
    schemathesis.openapi.media_type("application/x-tar", st.binary(max_size=4096))  # a capsule's archive: any bytes
    schema = schemathesis.openapi.from_path(str(spec))
    sent, failures = 0, []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            @given(operation.as_strategy(generation_mode=mode))
            def call(case):
                nonlocal sent
                response = case.call(base_url=base_url, headers=headers, timeout=30, allow_redirects=False)
                sent += 1
                body = case.body if isinstance(case.body, (dict, list, str, int, float, bool, type(None))) else "-"
                what = f"{case.method} {case.formatted_path} query={case.query} body={body!r}"[:300]
                text = " ".join(response.text.split())[:160]
                if response.status_code >= 500:
                    failures.append(f"{response.status_code} for {what}: {text}")
                elif response.status_code >= 400 and any(p in case.formatted_path for p in json_errors):
                    try:
                        body = response.json()
                        assert body["message"] and body["reason"]
                    except Exception:
                        failures.append(f"{response.status_code} without a JSON error for {what}: {text}")

            try:
                call()
            except Unsatisfiable:  # an operation with no input cannot be sent anything invalid
                assert mode is GenerationMode.NEGATIVE, operation.label
    return sent, failures
