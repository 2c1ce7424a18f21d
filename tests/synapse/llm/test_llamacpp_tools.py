"""Tool calls and JSON answers through the embedded backend on the real SmolLM2 demo GGUF."""

from __future__ import annotations

import json
from collections.abc import Iterator

import jsonschema
import pytest

from synapse.llm import ChatMessage, GenerationOptions
from synapse.llm.errors import UnsupportedSchemaError
from synapse.llm.llamacpp import LlamaCppBackend
from synapse.llm.models import ResponseFormat, ToolCall, ToolSpec
from synapse.llm.tool_calls import OPEN
from tests.synapse.llm.conftest import demo_backend

pytestmark = pytest.mark.slow
MODEL = "smollm2-135m-demo"
WEATHER = ToolSpec(
    name="get_weather",
    description="The current weather in a city",
    parameters={
        "type": "object",
        "properties": {
            "city": {"type": "string", "minLength": 1, "maxLength": 40},
            "unit": {"enum": ["celsius", "fahrenheit"]},
            "days": {"type": "integer"},
        },
        "required": ["city", "unit"],
        "additionalProperties": False,
    },
)
CALC = ToolSpec(
    name="add",
    description="Add two numbers",
    parameters={
        "type": "object",
        "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
        "required": ["a", "b"],
    },
)
Q = [ChatMessage(role="user", content="What is the weather in Paris today?")]


@pytest.fixture(scope="module")
def embedded() -> Iterator[LlamaCppBackend]:
    with demo_backend(n_ctx=2048) as backend:
        yield backend


@pytest.mark.asyncio
async def test_forced_call_validates_against_the_tool_schema(embedded: LlamaCppBackend) -> None:
    options = GenerationOptions(
        max_tokens=96, temperature=0, tools=[CALC, WEATHER], tool_choice="required", parallel_tool_calls=False
    )
    result = await embedded.chat(Q, MODEL, options)
    assert result.finish_reason == "tool_calls" and len(result.tool_calls) == 1 and result.content == ""
    call = result.tool_calls[0]
    schema = {CALC.name: CALC.parameters, WEATHER.name: WEATHER.parameters}[call.name]
    jsonschema.validate(call.arguments, schema)
    assert call.id.startswith("call_")


@pytest.mark.asyncio
async def test_named_call_streams_deltas_that_reassemble(embedded: LlamaCppBackend) -> None:
    options = GenerationOptions(
        max_tokens=96,
        temperature=0.7,
        seed=3,
        tools=[CALC, WEATHER],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
    )
    deltas = [d async for d in embedded.stream(Q, MODEL, options)]
    final = deltas[-1]
    assert final.done and final.finish_reason == "tool_calls" and final.tool_calls
    assert all(c.name == "get_weather" for c in final.tool_calls)
    pieces = [p for d in deltas for p in d.tool_call_deltas]
    for index, call in enumerate(final.tool_calls):
        mine = [p for p in pieces if p.index == index]
        assert mine[0].id == call.id and mine[0].name == call.name
        arguments = json.loads("".join(p.arguments for p in mine))
        assert arguments == call.arguments
        jsonschema.validate(arguments, WEATHER.parameters)
    assert not any(OPEN in d.content for d in deltas)


@pytest.mark.asyncio
async def test_json_schema_answer_validates(embedded: LlamaCppBackend) -> None:
    schema = {
        "type": "object",
        "properties": {
            "city": {"type": "string", "maxLength": 30},
            "sunny": {"type": "boolean"},
            "tags": {"type": "array", "items": {"enum": ["warm", "cold", "wet"]}, "maxItems": 3},
        },
        "required": ["city", "sunny", "tags"],
    }
    fmt = ResponseFormat(type="json_schema", json_schema=schema)
    result = await embedded.chat(Q, MODEL, GenerationOptions(max_tokens=120, temperature=0, response_format=fmt))
    assert result.finish_reason == "stop"
    jsonschema.validate(json.loads(result.content), schema)
    anything = await embedded.chat(
        Q, MODEL, GenerationOptions(max_tokens=60, temperature=0, response_format=ResponseFormat(type="json_object"))
    )
    assert isinstance(json.loads(anything.content), dict)


@pytest.mark.asyncio
@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_auto_answer_is_a_valid_call_or_plain_text(embedded: LlamaCppBackend, seed: int) -> None:
    options = GenerationOptions(max_tokens=64, temperature=1.0, seed=seed, tools=[WEATHER, CALC])
    result = await embedded.chat(Q, MODEL, options)
    if result.tool_calls:
        assert result.finish_reason == "tool_calls"
        for call in result.tool_calls:
            jsonschema.validate(call.arguments, {"get_weather": WEATHER, "add": CALC}[call.name].parameters)
    else:
        assert result.finish_reason in ("stop", "length") and result.content


@pytest.mark.asyncio
async def test_tool_results_in_the_history_reach_the_model(embedded: LlamaCppBackend) -> None:
    call = ToolCall(name="get_weather", arguments={"city": "Paris", "unit": "celsius"})
    history = [
        *Q,
        ChatMessage(role="assistant", tool_calls=[call]),
        ChatMessage(role="tool", tool_call_id=call.id, content='{"temperature": 21, "sky": "clear"}'),
    ]
    prompt = embedded.render_prompt(history, [WEATHER])
    assert '<tool_response>\n{"temperature": 21' in prompt and '"name": "get_weather"' in prompt
    result = await embedded.chat(history, MODEL, GenerationOptions(max_tokens=24, temperature=0, tools=[WEATHER]))
    assert result.completion_tokens >= 1 and result.finish_reason in ("stop", "length", "tool_calls")


@pytest.mark.asyncio
async def test_unsupported_schema_is_refused_before_generating(embedded: LlamaCppBackend) -> None:
    before = embedded.completed
    bounded = ToolSpec(name="f", parameters={"type": "object", "properties": {"n": {"type": "integer", "minimum": 1}}})
    with pytest.raises(UnsupportedSchemaError, match=r"'minimum' on type 'integer' at \$\.properties\.n"):
        await embedded.chat(Q, MODEL, GenerationOptions(tools=[bounded], tool_choice="required"))
    assert embedded.completed == before
