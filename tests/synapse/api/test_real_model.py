"""The served API on the real embedded backend (SmolLM2 demo GGUF): openai and ollama clients, streaming, stop."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import ollama
import openai
import pytest

from synapse.api import create_app
from synapse.config import SynapseSettings
from synapse.llm.llamacpp import EmbeddedConfig, LlamaCppBackend
from synapse.triz import ContradictionAnalyzer
from tests.synapse.agent.fakes import FakeCortex
from tests.synapse.api.conftest import LiveServer, make_agent_for

pytestmark = pytest.mark.slow
BEAM = "We want the beam to be stronger, but then it becomes heavier."


@pytest.fixture(scope="module")
def live(lexicon_analyzer: ContradictionAnalyzer) -> Iterator[LiveServer]:
    backend = LlamaCppBackend(EmbeddedConfig(n_ctx=2048, data_dir=Path("/nonexistent-synapse-test")))
    settings = SynapseSettings(backend="llamacpp", api_keys="test-key")
    agent = make_agent_for(backend, FakeCortex(), lexicon_analyzer, settings)
    with LiveServer(create_app(settings, agent=agent)) as server:
        yield server
    asyncio.run(backend.aclose())


def test_openai_stream_with_sources_on_the_demo_model(live: LiveServer) -> None:
    client = openai.OpenAI(base_url=f"{live.url}/v1", api_key="test-key", max_retries=0)
    chunks = list(
        client.chat.completions.create(
            model="triz-agent", messages=[{"role": "user", "content": BEAM}], stream=True, max_tokens=12, temperature=0
        )
    )
    extra = chunks[0].model_extra or {}
    assert len(extra["sources"]) == 3 and extra["routing"]["model"] == "smollm2-135m-demo"
    assert any("demo model" in w for w in extra["warnings"])
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    usage = chunks[-1].usage
    assert text.strip() and usage is not None and 1 <= usage.completion_tokens <= 13 and usage.prompt_tokens > 50
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")


def test_openai_stop_and_raw_model(live: LiveServer) -> None:
    client = openai.OpenAI(base_url=f"{live.url}/v1", api_key="test-key", max_retries=0)
    messages = [{"role": "user", "content": "Count: one, two, three, four, five. Continue the list."}]
    full = client.chat.completions.create(model="smollm2-135m-demo", messages=messages, max_tokens=16, temperature=0)
    text = full.choices[0].message.content or ""
    words = text.split()
    assert len(words) >= 3, text
    cut = client.chat.completions.create(
        model="smollm2-135m-demo", messages=messages, max_tokens=16, temperature=0, stop=[words[2]]
    )
    cut_text = cut.choices[0].message.content or ""
    assert cut.choices[0].finish_reason == "stop" and words[2] not in cut_text and text.startswith(cut_text)
    assert (full.model_extra or {})["sources"] == []


def test_ollama_client_streams_from_the_demo_model(live: LiveServer) -> None:
    client = ollama.Client(host=live.url, headers={"X-API-Key": "test-key"})
    parts = list(
        client.chat(
            model="triz-agent",
            messages=[{"role": "user", "content": "Как сделать балку прочнее, но не тяжелее?"}],
            stream=True,
            options={"num_predict": 8, "temperature": 0},
        )
    )
    assert "".join(p.message.content or "" for p in parts).strip()
    assert parts[-1].done and parts[-1].eval_count and parts[-1].eval_count <= 9
