"""The whole default stack: `create_app()` with nothing injected, in-process CORTEX on the real offline
embedder, the embedded SmolLM2 demo model, and the openai client streaming an answer with sources."""

from __future__ import annotations

import time

import httpx
import openai
import pytest

from synapse.api import create_app
from synapse.config import SynapseSettings
from tests.synapse.api.conftest import LiveServer

pytestmark = pytest.mark.slow


def test_streamed_answer_with_sources_from_the_default_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    # CORTEX keeps its real embedder; only SYNAPSE's analyzer runs on the lexicon, to keep startup short.
    monkeypatch.setenv("SYNAPSE_EMBEDDER", "none")
    settings = SynapseSettings(n_ctx=2048, top_k=4)
    # Startup builds CORTEX's TRIZ graph and the analyzer's vectors in fresh folders: minutes on a busy machine.
    with LiveServer(create_app(settings), start_timeout_s=900) as server:
        # A CORTEX that timed out at startup on a busy machine is opened again in the background.
        deadline = time.monotonic() + 600
        while (health := httpx.get(f"{server.url}/health", timeout=60).json())["cortex"]["status"] != "ok":
            assert time.monotonic() < deadline, health
            time.sleep(2)
        assert health["backends"][0]["backend"] == "llamacpp" and health["backends"][0]["demo"] is True
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0, timeout=300)
        chunks = list(
            client.chat.completions.create(
                model="triz-agent",
                messages=[{"role": "user", "content": "We want the beam to be stronger, but it becomes heavier."}],
                stream=True,
                max_tokens=8,
                temperature=0,
                extra_body={"rag": {"mode": "naive"}},
            )
        )
    extra = chunks[0].model_extra or {}
    assert extra["sources"], extra["warnings"]
    assert extra["retrieval"]["mode"] == "naive" and extra["retrieval"]["count"] == len(extra["sources"])
    assert {s["kind"] for s in extra["sources"]} <= {"principle", "parameter", "matrix", "separation", "document"}
    assert any("demo model" in w for w in extra["warnings"])
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).strip()
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens >= 1
