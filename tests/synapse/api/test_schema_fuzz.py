"""Schemathesis against a live SYNAPSE (keys set, instant fake backend): every phase, every check, every route.

This is `schemathesis run --checks all` through its Python engine: the examples, coverage, fuzzing and
stateful phases, with all checks enabled (not_a_server_error, status_code_conformance,
content_type_conformance, response_schema_conformance, response_headers_conformance, positive and
negative data acceptance, ignored_auth, unsupported_method, ...). Streamed answers are included:
schemathesis checks each SSE event of /v1/chat/completions against the documented event schema, and the
NDJSON streams of /api/chat and /api/generate by their content type.

One setting is relaxed, for the four generation routes and the three embedding routes only:
positive_data_acceptance also accepts 400, 404 and 422 (and 413 for embeddings). The schema cannot say
"the conversation ends with a non-empty user message" (422), "the question fits the model's context
window" (400), "the model exists" (404) or "each text is within SYNAPSE_MAX_EMBED_CHARS" (413), so a
schema-valid request may still be refused there.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
import pytest

from tests.synapse.agent.fakes import ScriptedBackend
from tests.synapse.api.conftest import ServeFn

schemathesis = pytest.importorskip("schemathesis")

KEY = "fuzz-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
GENERATION_PATHS = ["/v1/chat/completions", "/v1/triz/analyze", "/api/chat", "/api/generate"]
EMBEDDING_PATHS = ["/v1/embeddings", "/api/embed", "/api/embeddings"]


def _config() -> Any:
    return schemathesis.Config.from_dict(
        {
            "headers": AUTH,
            "seed": 14,
            "generation": {"max-examples": 25, "deterministic": True, "database": "none"},
            "cache": {"enabled": False},
            "operations": [
                {
                    "include-path": GENERATION_PATHS,
                    "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "400", "404", "422"]}},
                },
                {
                    "include-path": EMBEDDING_PATHS,
                    "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "400", "404", "413", "422"]}},
                },
            ],
        }
    )


def run_schemathesis(url: str) -> tuple[list[str], Counter[tuple[str, int]]]:
    """Every failed check and engine error, and how often each (operation, status) was answered."""
    from schemathesis.engine import Status, events, from_schema

    schema = schemathesis.openapi.from_url(f"{url}/openapi.json", config=_config(), headers=AUTH)
    problems: list[str] = []
    answered: Counter[tuple[str, int]] = Counter()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            label = event.recorder.label
            for checks in event.recorder.checks.values():
                for check in checks:
                    if check.status == Status.FAILURE and check.failure_info is not None:
                        failure = check.failure_info.failure
                        problems.append(f"{label} {check.name}: {failure.title}\n{failure.message}")
            for interaction in event.recorder.interactions.values():
                if interaction.response is not None:
                    answered[(label, interaction.response.status_code)] += 1
        elif isinstance(event, (events.NonFatalError, events.FatalError)):
            problems.append(f"schemathesis error: {event}")
    return problems, answered


def test_every_operation_passes_every_check(serve: ServeFn) -> None:
    server = serve(backend=ScriptedBackend(), api_keys=KEY)
    problems, answered = run_schemathesis(server.url)
    assert not problems, "\n\n".join(problems)

    paths = httpx.get(f"{server.url}/openapi.json", headers=AUTH).json()["paths"]
    operations = {
        f"{m.upper()} {p}": set(map(int, op["responses"])) for p, ops in paths.items() for m, op in ops.items()
    }
    assert {label for label, _ in answered} == set(operations), "some operation was not exercised"
    for (label, status), _ in answered.items():
        assert status < 500, (label, status)
        # 405 comes from unsupported_method, which sends methods the path does not have.
        assert status in operations[label] or status == 405, (label, status)
    for label in operations:
        assert any(200 <= status < 300 for lbl, status in answered if lbl == label), f"{label} never succeeded"
