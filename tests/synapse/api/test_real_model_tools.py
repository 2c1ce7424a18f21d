"""Tool calls and JSON answers through /v1 on the real embedded backend (SmolLM2 demo GGUF), with the clients
users have: the official `openai` client and LangChain's ChatOpenAI, unmodified."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import openai
import pytest
from langchain_core.messages import AIMessage, ToolMessage
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, Field

from synapse.api import create_app
from synapse.config import SynapseSettings
from synapse.llm.llamacpp import EmbeddedConfig, LlamaCppBackend
from synapse.triz import ContradictionAnalyzer
from tests.synapse.agent.fakes import FakeCortex
from tests.synapse.api.conftest import LiveServer, make_agent_for

pytestmark = pytest.mark.slow
KEY = "test-key"
ASK = "What is the weather in Paris?"
PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {"city": {"type": "string", "maxLength": 30}, "unit": {"type": "string", "enum": ["c", "f"]}},
    "required": ["city", "unit"],
}
WEATHER: Any = {
    "type": "function",
    "function": {"name": "get_weather", "description": "Current weather in a city", "parameters": PARAMETERS},
}
ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"answer": {"type": "string", "maxLength": 40}, "score": {"type": "integer"}},
    "required": ["answer", "score"],
    "additionalProperties": False,
}


class Weather(BaseModel):
    """The weather in a city."""

    city: str = Field(max_length=30)
    temperature_c: int


@pytest.fixture(scope="module")
def live(lexicon_analyzer: ContradictionAnalyzer) -> Iterator[LiveServer]:
    backend = LlamaCppBackend(EmbeddedConfig(n_ctx=2048, data_dir=Path("/nonexistent-synapse-test")))
    settings = SynapseSettings(backend="llamacpp", api_keys=KEY)
    agent = make_agent_for(backend, FakeCortex(), lexicon_analyzer, settings)
    with LiveServer(create_app(settings, agent=agent)) as server:
        yield server
    asyncio.run(backend.aclose())


@pytest.fixture(scope="module")
def oa(live: LiveServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{live.url}/v1", api_key=KEY, max_retries=0)


def chat_model(live: LiveServer, **kwargs: Any) -> ChatOpenAI:
    return ChatOpenAI(
        model="triz-agent", base_url=f"{live.url}/v1", api_key=KEY, max_retries=0, temperature=0, **kwargs
    )  # type: ignore[arg-type]


def ask(oa: openai.OpenAI, **kwargs: Any) -> Any:
    base: dict[str, Any] = {"model": "triz-agent", "messages": [{"role": "user", "content": ASK}], "temperature": 0}
    return oa.chat.completions.create(**{**base, "max_tokens": 80, **kwargs})


def test_a_forced_call_validates_against_the_tool_schema(oa: openai.OpenAI) -> None:
    reply = ask(oa, tools=[WEATHER], tool_choice="required")
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.tool_calls
    for call in choice.message.tool_calls:
        assert call.type == "function" and call.function.name == "get_weather" and call.id.startswith("call_")
        jsonschema.validate(json.loads(call.function.arguments), PARAMETERS)
    assert len((reply.model_extra or {})["sources"]) == 3


def test_streamed_call_deltas_reassemble_into_the_same_call(oa: openai.OpenAI) -> None:
    named = {"type": "function", "function": {"name": "get_weather"}}
    whole = ask(oa, tools=[WEATHER], tool_choice=named, parallel_tool_calls=False).choices[0].message.tool_calls
    chunks = list(ask(oa, tools=[WEATHER], tool_choice=named, parallel_tool_calls=False, stream=True))
    pieces = [d for c in chunks if c.choices for d in c.choices[0].delta.tool_calls or []]
    assert pieces and pieces[0].id and pieces[0].function and pieces[0].function.name == "get_weather"
    arguments = "".join(p.function.arguments or "" for p in pieces if p.function)
    assert len(whole) == 1 and json.loads(arguments) == json.loads(whole[0].function.arguments)
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_an_agent_loop_completes_with_sources(oa: openai.OpenAI) -> None:
    messages: list[Any] = [{"role": "user", "content": ASK}]
    reply = ask(oa, messages=messages, tools=[WEATHER], tool_choice="required")
    for _ in range(3):  # call -> result -> ... until the model answers in text
        message = reply.choices[0].message
        if not message.tool_calls:
            break
        messages.append(message.model_dump(exclude_none=True))
        for call in message.tool_calls:
            messages.append(
                {"role": "tool", "tool_call_id": call.id, "content": '{"temperature_c": 21, "sky": "sunny"}'}
            )
        reply = ask(oa, messages=messages, tools=[WEATHER], max_tokens=40)
    assert reply.choices[0].message.content and reply.choices[0].finish_reason in ("stop", "length")
    assert len((reply.model_extra or {})["sources"]) == 3 and len(messages) >= 3


def test_a_json_schema_answer_validates(oa: openai.OpenAI) -> None:
    fmt = {"type": "json_schema", "json_schema": {"name": "Answer", "schema": ANSWER_SCHEMA, "strict": True}}
    reply = ask(oa, response_format=fmt)
    jsonschema.validate(json.loads(reply.choices[0].message.content), ANSWER_SCHEMA)
    assert reply.choices[0].finish_reason == "stop"


def test_include_usage_ends_with_a_usage_chunk(oa: openai.OpenAI) -> None:
    chunks = list(ask(oa, stream=True, max_tokens=8, stream_options={"include_usage": True}))
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None and 1 <= last.usage.completion_tokens <= 9
    assert last.usage.prompt_tokens > 50 and chunks[-2].choices[0].finish_reason in ("stop", "length")


@pytest.mark.parametrize("question", [ASK, "Tell me a joke about beams.", "Как сделать балку прочнее?"])
def test_auto_gives_a_valid_call_or_text(oa: openai.OpenAI, question: str) -> None:
    for stream in (False, True):
        kwargs: dict[str, Any] = {"messages": [{"role": "user", "content": question}], "tools": [WEATHER]}
        if stream:
            chunks = list(ask(oa, stream=True, max_tokens=40, **kwargs))
            text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
            calls = [d for c in chunks if c.choices for d in c.choices[0].delta.tool_calls or []]
            reason = chunks[-1].choices[0].finish_reason
        else:
            message = (reply := ask(oa, max_tokens=40, **kwargs)).choices[0].message
            text, calls, reason = message.content or "", message.tool_calls or [], reply.choices[0].finish_reason
        assert (reason == "tool_calls" and calls) or (text.strip() and reason in ("stop", "length") and not calls)


def test_a_schema_the_grammar_cannot_express_is_422(oa: openai.OpenAI) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 3}}}
    for stream in (False, True):
        with pytest.raises(openai.UnprocessableEntityError) as err:
            ask(
                oa,
                stream=stream,
                response_format={"type": "json_schema", "json_schema": {"name": "N", "schema": schema}},
            )
        body: Any = err.value.body
        assert body["param"] == "response_format.json_schema.schema" and "minimum" in body["message"]


def test_langchain_invoke_and_stream(live: LiveServer) -> None:
    llm = chat_model(live, max_tokens=12)
    reply = llm.invoke(ASK)
    assert isinstance(reply, AIMessage) and reply.content
    parts = list(llm.stream(ASK))
    assert "".join(str(p.content) for p in parts).strip()


def test_langchain_bind_tools_forced_call_round_trip(live: LiveServer) -> None:
    def get_weather(city: str, unit: str) -> str:
        """Current weather in a city; unit is c or f."""
        return f"21 {unit} in {city}"

    llm = chat_model(live, max_tokens=80).bind_tools([get_weather], tool_choice="get_weather")
    reply = llm.invoke(ASK)
    assert isinstance(reply, AIMessage) and reply.tool_calls and reply.tool_calls[0]["name"] == "get_weather"
    call = reply.tool_calls[0]
    assert set(call["args"]) >= {"city", "unit"}
    result = ToolMessage(content=get_weather(**call["args"]), tool_call_id=call["id"] or "")
    final = chat_model(live, max_tokens=30).bind_tools([get_weather]).invoke([("user", ASK), reply, result])
    assert isinstance(final, AIMessage) and (final.content or final.tool_calls)


@pytest.mark.parametrize("method", ["json_schema", "function_calling"])
def test_langchain_structured_output_returns_the_model(live: LiveServer, method: str) -> None:
    llm = chat_model(live, max_tokens=80)
    # json_schema is ChatOpenAI's default method; function_calling forces a call of a tool named Weather.
    structured = llm.with_structured_output(Weather) if method == "json_schema" else None
    structured = structured or llm.with_structured_output(Weather, method="function_calling")
    result = structured.invoke("The weather in Paris is 21 degrees. Extract it.")
    assert isinstance(result, Weather) and result.city
