"""The Ollama backend with tools and formats against a local server that speaks Ollama's tool-call fields."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from synapse.llm import ChatMessage, GenerationOptions
from synapse.llm.errors import StructuredOutputError
from synapse.llm.models import ResponseFormat, ToolCall, ToolSpec
from synapse.llm.ollama_backend import OllamaBackend
from synapse.llm.ollama_tools import call_schema
from tests.synapse.llm.ollama_tool_server import ScriptedOllama

MODEL = "qwen2.5:14b-instruct-q4_k_m"
NESTED = {
    "type": "object",
    "properties": {
        "place": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "country": {"anyOf": [{"type": "string"}, {"type": "null"}]}},
            "required": ["city"],
        },
        "days": {"type": "integer", "minimum": 1},
    },
    "required": ["place"],
}
WEATHER = ToolSpec(name="get_weather", description="Weather", parameters=NESTED)
TIME = ToolSpec(name="now", parameters={"type": "object", "properties": {}})
Q = [ChatMessage(role="user", content="Weather in Oslo?")]


def weather_call(**arguments: Any) -> dict[str, Any]:
    return {"function": {"name": "get_weather", "arguments": arguments}}


async def collect(server: ScriptedOllama, messages: list[ChatMessage], **options: Any) -> list[Any]:
    backend = OllamaBackend(server.url)
    try:
        return [d async for d in backend.stream(messages, MODEL, GenerationOptions(**options))]
    finally:
        await backend.aclose()


@pytest.mark.asyncio
async def test_tools_go_out_whole_and_calls_come_back_streamed() -> None:
    with ScriptedOllama([{"tool_calls": [weather_call(place={"city": "Oslo"})]}]) as server:
        deltas = await collect(server, Q, tools=[WEATHER, TIME])
    sent = server.bodies[-1]
    # The nested schema reaches Ollama as sent (the client's Tool model would drop it).
    assert sent["tools"][0] == WEATHER.to_wire() and sent["tools"][1]["function"]["name"] == "now"
    assert sent["stream"] is True and "format" not in sent
    final = deltas[-1]
    assert final.done and final.finish_reason == "tool_calls" and final.prompt_tokens == 30
    [call] = final.tool_calls
    assert call.name == "get_weather" and call.arguments == {"place": {"city": "Oslo"}} and call.id.startswith("call_")
    pieces = [p for d in deltas for p in d.tool_call_deltas]
    assert pieces[0].id == call.id and json.loads("".join(p.arguments for p in pieces)) == call.arguments


@pytest.mark.asyncio
async def test_history_with_calls_and_tool_results_is_sent_in_ollama_fields() -> None:
    call = ToolCall(id="call_a", name="get_weather", arguments={"place": {"city": "Oslo"}})
    history = [
        *Q,
        ChatMessage(role="assistant", tool_calls=[call]),
        ChatMessage(role="tool", tool_call_id="call_a", content="sunny, 18 C"),
    ]
    with ScriptedOllama([{"content": "Sunny, "}, {"content": "18 C."}]) as server:
        deltas = await collect(server, history, tools=[WEATHER])
    assert "".join(d.content for d in deltas) == "Sunny, 18 C." and deltas[-1].finish_reason == "stop"
    messages = server.bodies[-1]["messages"]
    assert messages[1] == {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"function": {"name": "get_weather", "arguments": {"place": {"city": "Oslo"}}}}],
    }
    assert messages[2] == {"role": "tool", "content": "sunny, 18 C", "tool_name": "get_weather"}


@pytest.mark.asyncio
async def test_an_invalid_call_in_auto_mode_is_text() -> None:
    with ScriptedOllama([{"tool_calls": [weather_call(place="Oslo")]}]) as server:
        deltas = await collect(server, Q, tools=[WEATHER])
    assert deltas[-1].tool_calls == [] and deltas[-1].finish_reason == "stop"
    assert '"name": "get_weather"' in "".join(d.content for d in deltas)


@pytest.mark.asyncio
async def test_forced_call_goes_as_a_format_and_the_json_answer_is_the_call() -> None:
    answer = json.dumps({"name": "get_weather", "arguments": {"place": {"city": "Oslo", "country": None}, "days": 2}})
    with ScriptedOllama([{"content": answer[:20]}, {"content": answer[20:]}]) as server:
        deltas = await collect(server, Q, tools=[WEATHER, TIME], tool_choice="get_weather")
    sent = server.bodies[-1]
    assert [t["function"]["name"] for t in sent["tools"]] == ["get_weather"]
    assert sent["format"] == call_schema([WEATHER])
    assert "".join(d.content for d in deltas) == "" and deltas[-1].finish_reason == "tool_calls"
    assert deltas[-1].tool_calls[0].arguments["days"] == 2
    bad = ScriptedOllama([{"content": '{"name": "get_weather", "arguments": {"days": 2}}'}])
    with bad as server, pytest.raises(StructuredOutputError, match=r"'place' is a required property"):
        await collect(server, Q, tools=[WEATHER], tool_choice="required")


def test_call_schema_gathers_the_tools_defs() -> None:
    item = {"type": "object", "properties": {"n": {"type": "integer"}}}
    params = {"type": "object", "properties": {"x": {"$ref": "#/$defs/Item"}}, "$defs": {"Item": item}}
    tool = ToolSpec(name="a", parameters=params)
    schema = call_schema([tool, TIME])
    assert schema["$defs"] == {"t0_Item": item}
    assert schema["anyOf"][0]["properties"]["arguments"]["properties"]["x"] == {"$ref": "#/$defs/t0_Item"}
    jsonschema.validate({"name": "a", "arguments": {"x": {"n": 1}}}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"name": "a", "arguments": {"x": {"n": "1"}}}, schema)
    jsonschema.validate({"name": "now", "arguments": {}}, schema)


@pytest.mark.asyncio
async def test_formats_are_passed_and_answers_validated() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    fmt = ResponseFormat(type="json_schema", json_schema=schema)
    with ScriptedOllama([{"content": '{"n": 4}'}]) as server:
        deltas = await collect(server, Q, response_format=fmt)
        await collect(server, Q, response_format=ResponseFormat(type="json_object"))
    assert server.bodies[0]["format"] == schema and server.bodies[1]["format"] == "json"
    assert json.loads("".join(d.content for d in deltas)) == {"n": 4}
    with (
        ScriptedOllama([{"content": '{"n": "four"}'}]) as server,
        pytest.raises(StructuredOutputError, match=r"at \$\.n"),
    ):
        await collect(server, Q, response_format=fmt)
