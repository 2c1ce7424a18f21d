"""Schemathesis against the CORTEX app under uvicorn: every answer is documented and none is a 5xx.

Every operation of the OpenAPI document gets generated requests (valid and invalid, derandomized, a
bounded number each) with the API key sent, and every built-in check runs on each answer: no server
error, only documented statuses, bodies and content types, 401 without the key, 405 with Allow.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from cortex.api import create_app
from tests.conftest import HashingEmbedder
from tests.cortex.api.conftest import served
from tests.cortex.conftest import cortex_settings

KEY = "fuzz-key"
AUTH = {"X-API-Key": KEY}


def _app(data_dir: Path, cache_dir: Path | None = None) -> object:
    settings_ = cortex_settings(data_dir, api_key=KEY, max_upload_mb=0.05, max_text_chars=20_000)
    return create_app(settings_, embedder=HashingEmbedder(), cache_dir=cache_dir)


# The document comes from an app that is never started (building it touches nothing); the requests go
# to an identical app under uvicorn. (schemathesis.pytest.from_fixture does not run on pytest 9.)
schema = schemathesis.openapi.from_dict(_app(Path("unused")).openapi())  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def cortex_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("cortex-fuzz")
    with served(_app(root / "data", root / "cache")) as url:  # type: ignore[arg-type]
        # The analyzer loads its embedding model on first use, which takes longer than a request's timeout.
        httpx.post(f"{url}/triz/analyze", json={"problem": "lighter but strong"}, headers=AUTH, timeout=600)
        yield url


@schema.parametrize()
@settings(
    max_examples=20,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
)
def test_every_answer_is_documented(case: schemathesis.Case, cortex_url: str) -> None:
    excluded = []
    if case.method == "POST" and case.path == "/documents":
        # No schema can say which file names and contents are readable documents: a schema-valid upload
        # named "file" is rightly refused with 415 (or 400 for bytes that are not text), both documented.
        excluded.append(schemathesis.checks.positive_data_acceptance)
    case.call_and_validate(base_url=cortex_url, headers=AUTH, excluded_checks=excluded, timeout=60)
