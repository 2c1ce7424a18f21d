"""The Ollama dialect on the real embedded backend (SmolLM2 demo GGUF), with the `ollama` client and LangChain's
ChatOllama as a user has them: list, show, ps, streamed chat, a schema answer, tools, a tool result."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import jsonschema
import ollama
import pytest
from langchain_ollama import ChatOllama
from pydantic import BaseModel

from synapse.api import create_app
from synapse.config import SynapseSettings
from synapse.llm.llamacpp import EmbeddedConfig, LlamaCppBackend
from synapse.triz import ContradictionAnalyzer
from tests.synapse.agent.fakes import FakeCortex
from tests.synapse.api.conftest import LiveServer, make_agent_for

pytestmark = pytest.mark.slow
DEMO = "smollm2-135m-demo"
KEY = {"Authorization": "Bearer demo-key"}
BEAM = "We want the beam to be stronger, but then it becomes heavier."
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


class Verdict(BaseModel):
    """A bounded answer, so that the small model finishes it within num_predict."""

    principle: Literal["segmentation", "composite materials", "other"]
    lighter: bool
    confidence: Literal[1, 2, 3]


@pytest.fixture(scope="module")
def live(lexicon_analyzer: ContradictionAnalyzer) -> Iterator[LiveServer]:
    backend = LlamaCppBackend(EmbeddedConfig(n_ctx=2048, data_dir=Path("/nonexistent-synapse-test")))
    settings = SynapseSettings(backend="llamacpp", api_keys="demo-key")
    agent = make_agent_for(backend, FakeCortex(), lexicon_analyzer, settings)
    with LiveServer(create_app(settings, agent=agent)) as server:
        yield server
    asyncio.run(backend.aclose())


@pytest.fixture
def client(live: LiveServer) -> ollama.Client:
    return ollama.Client(host=live.url, headers=KEY)


def test_list_show_and_ps(client: ollama.Client) -> None:
    listed = client.list().models
    assert [m.model for m in listed][:3] == ["triz-agent", "triz-agent-base", DEMO]
    for embedder in listed[3:]:  # CORTEX's embedder
        assert client.show(embedder.model or "").capabilities == ["embedding"]
    assert listed[2].details is not None and listed[2].details.quantization_level == "Q4_1"
    for name in ("triz-agent", DEMO):
        shown = client.show(name)
        assert shown.capabilities is not None and "tools" in shown.capabilities and "completion" in shown.capabilities
        # The GGUF's own Jinja chat template, its metadata and the context SYNAPSE runs it with.
        assert shown.template is not None and "<|im_start|>" in shown.template
        info = shown.modelinfo or {}
        assert info["general.architecture"] == "llama" and info["llama.context_length"] == 8192
        assert "num_ctx                        2048" in (shown.parameters or "")
    running = {m.model: m for m in client.ps().models}
    assert set(running) == {"triz-agent", "triz-agent-base", DEMO}
    assert running[DEMO].size and running[DEMO].context_length == 2048 and running[DEMO].size_vram == 0


def test_streamed_chat_ends_with_counts(client: ollama.Client) -> None:
    parts = list(
        client.chat(
            model="triz-agent",
            messages=[{"role": "user", "content": BEAM}],
            stream=True,
            options={"num_predict": 10, "temperature": 0},
            keep_alive="5m",
        )
    )
    assert "".join(p.message.content or "" for p in parts).strip()
    final = parts[-1]
    assert final.done and final.done_reason in ("stop", "length")
    assert final.prompt_eval_count and final.prompt_eval_count > 50 and final.eval_count and final.eval_count <= 11


def test_chat_with_a_schema_format_validates(client: ollama.Client) -> None:
    schema = Verdict.model_json_schema()
    reply = client.chat(
        model="triz-agent",
        messages=[{"role": "user", "content": BEAM + " Answer in JSON."}],
        format=schema,
        options={"num_predict": 60, "temperature": 0},
        stream=False,
    )
    Verdict.model_validate_json(reply.message.content or "")
    jsonschema.validate(json.loads(reply.message.content or ""), schema)


def test_tools_give_a_valid_call_or_text_and_a_result_round_trips(client: ollama.Client) -> None:
    question = {"role": "user", "content": "What is the weather in Oslo? Use the tool."}
    reply = client.chat(
        model=DEMO, messages=[question], tools=[WEATHER], options={"num_predict": 60, "temperature": 0}, stream=False
    )
    assert reply.done and reply.done_reason in ("stop", "length")
    calls = reply.message.tool_calls or []
    for call in calls:
        assert call.function.name == "get_weather"
        jsonschema.validate(dict(call.function.arguments), WEATHER["function"]["parameters"])  # type: ignore[index]
    if not calls:
        assert reply.message.content
    asked = {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Oslo"}}}],
    }
    result = {"role": "tool", "content": "sunny, 18 C", "tool_name": "get_weather"}
    parts = list(
        client.chat(
            model="triz-agent",
            messages=[question, asked, result],
            tools=[WEATHER],
            options={"num_predict": 30, "temperature": 0},
            stream=True,
        )
    )
    final = parts[-1]
    assert final.done and final.eval_count
    text = "".join(p.message.content or "" for p in parts)
    assert text.strip() or any(p.message.tool_calls for p in parts)


def test_langchain_chat_ollama_invoke_and_structured_output(live: LiveServer) -> None:
    model = ChatOllama(
        model="triz-agent", base_url=live.url, num_predict=60, temperature=0, client_kwargs={"headers": KEY}
    )
    answer = model.invoke(BEAM)
    assert str(answer.content).strip()
    assert answer.usage_metadata is not None and answer.usage_metadata["input_tokens"] > 50
    verdict = model.with_structured_output(Verdict).invoke(BEAM + " Answer in JSON.")
    assert isinstance(verdict, Verdict)
