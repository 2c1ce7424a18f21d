"""LangChain's ChatOllama, unmodified, through SYNAPSE on the Ollama backend (SYNAPSE_BACKEND=ollama) in front of
the fake Ollama that calls tools in Ollama's documented fields: bind_tools round trip, structured output."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.messages import HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_ollama import ChatOllama
from pydantic import BaseModel

from synapse.api import create_app
from synapse.config import SynapseSettings
from synapse.llm.ollama_backend import OllamaBackend
from synapse.triz import ContradictionAnalyzer
from tests.support.fake_ollama import CHAT_MODELS, FakeOllama, FakeReply
from tests.synapse.agent.fakes import FakeCortex
from tests.synapse.api.conftest import LiveServer, make_agent_for

BEAM = "We want the beam to be stronger, but then it becomes heavier. What is the weather in Oslo for the test?"


@tool
def get_weather(city: str, days: int = 1) -> str:
    """The weather forecast for a city."""
    return f"sunny in {city} for {days} days"


class Verdict(BaseModel):
    principle: int
    reason: str


def reply(request: dict[str, Any]) -> str | FakeReply:
    """A model that calls get_weather once, answers with the tool's result, and gives JSON when asked."""
    last = request["messages"][-1]
    if request.get("format"):
        return '{"principle": 1, "reason": "Segmentation"}'
    if last["role"] == "tool":
        return f"The tool says: {last['content']}."
    return FakeReply(tool_calls=[{"function": {"name": "get_weather", "arguments": {"city": "Oslo", "days": 2}}}])


@pytest.fixture
def synapse_on_ollama(lexicon_analyzer: ContradictionAnalyzer) -> Iterator[tuple[str, FakeOllama]]:
    with FakeOllama(chat_models=CHAT_MODELS, chat_reply=reply, prompt_tokens=21) as fake:
        settings = SynapseSettings(backend="ollama", api_keys="lc-key")
        agent = make_agent_for(OllamaBackend(fake.url), FakeCortex(), lexicon_analyzer, settings)
        with LiveServer(create_app(settings, agent=agent)) as server:
            yield server.url, fake


def chat_model(url: str) -> ChatOllama:
    return ChatOllama(model="triz-agent", base_url=url, client_kwargs={"headers": {"Authorization": "Bearer lc-key"}})


def test_bind_tools_round_trip(synapse_on_ollama: tuple[str, FakeOllama]) -> None:
    url, fake = synapse_on_ollama
    model = chat_model(url).bind_tools([get_weather])
    question = HumanMessage(BEAM)
    asked = model.invoke([question])
    [call] = asked.tool_calls  # type: ignore[attr-defined]
    assert call["name"] == "get_weather" and call["args"] == {"city": "Oslo", "days": 2}
    sent_tools = fake.chats[0]["tools"]
    assert sent_tools[0]["function"]["name"] == "get_weather"
    assert sent_tools[0]["function"]["parameters"]["properties"]["city"]["type"] == "string"
    result = ToolMessage(get_weather.invoke(call["args"]), tool_call_id=call["id"])
    answer = model.invoke([question, asked, result])
    assert answer.content == "The tool says: sunny in Oslo for 2 days."
    assert not answer.tool_calls  # type: ignore[attr-defined]
    assert answer.usage_metadata is not None and answer.usage_metadata["input_tokens"] == 21
    history = fake.chats[-1]["messages"]
    assert history[-2]["role"] == "assistant"
    assert history[-2]["tool_calls"] == [
        {"function": {"name": "get_weather", "arguments": {"city": "Oslo", "days": 2}}}
    ]
    assert history[-1] == {"role": "tool", "content": "sunny in Oslo for 2 days", "tool_name": "get_weather"}
    # The agent model's retrieval still ran on the question: its context is in the system prompt.
    assert history[0]["role"] == "system" and "Segmentation" in history[0]["content"]


def test_with_structured_output_returns_the_model(synapse_on_ollama: tuple[str, FakeOllama]) -> None:
    url, fake = synapse_on_ollama
    verdict = chat_model(url).with_structured_output(Verdict).invoke(BEAM)
    assert verdict == Verdict(principle=1, reason="Segmentation")
    assert fake.chats[-1]["format"] == Verdict.model_json_schema()


def test_invoke_and_stream_plain_text(synapse_on_ollama: tuple[str, FakeOllama]) -> None:
    url, fake = synapse_on_ollama
    model = ChatOllama(
        model="triz-agent",
        base_url=url,
        keep_alive="3m",
        num_predict=64,
        client_kwargs={"headers": {"Authorization": "Bearer lc-key"}},
    ).bind_tools([get_weather])
    fake.chat_reply = lambda _request: "Segment the beam [1]."
    answer = model.invoke(BEAM)
    assert answer.content == "Segment the beam [1]." and fake.chats[-1]["keep_alive"] == "3m"
    assert "".join(str(c.content) for c in model.stream(BEAM)) == "Segment the beam [1]."
