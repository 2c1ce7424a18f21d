"""Tools, calls, tool choice and response formats accept both dialects' wire shapes."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from synapse.llm import ChatMessage, GenerationOptions
from synapse.llm.models import ResponseFormat, ToolCall, ToolChoice, ToolSpec

WIRE_TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "description": "Weather", "parameters": {"type": "object"}},
}


def test_tool_spec_from_the_wire_and_back() -> None:
    spec = ToolSpec.model_validate(WIRE_TOOL)
    assert spec.name == "get_weather" and spec.to_wire() == WIRE_TOOL
    bare = ToolSpec.model_validate({"name": "now", "parameters": None})
    assert bare.parameters == {"type": "object", "properties": {}}
    with pytest.raises(ValidationError):
        ToolSpec(name="has space")


def test_tool_call_arguments_as_string_or_object() -> None:
    openai = ToolCall.from_wire(
        {"id": "call_7", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}
    )
    ollama = ToolCall.from_wire({"function": {"name": "f", "arguments": {"a": 1}}})
    assert openai.id == "call_7" and openai.arguments == ollama.arguments == {"a": 1}
    assert ollama.id.startswith("call_") and openai.arguments_json() == '{"a": 1}'
    with pytest.raises(ValidationError, match="not JSON"):
        ToolCall(name="f", arguments="{broken")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("wire", "mode", "function"),
    [
        ("auto", "auto", None),
        ("none", "none", None),
        ("required", "required", None),
        ({"type": "function", "function": {"name": "get_weather"}}, "function", "get_weather"),
        ({"name": "get_weather"}, "function", "get_weather"),
        ("get_weather", "function", "get_weather"),
    ],
)
def test_tool_choice_shapes(wire: object, mode: str, function: str | None) -> None:
    choice = GenerationOptions.model_validate({"tool_choice": wire}).tool_choice
    assert (choice.mode, choice.function) == (mode, function)
    assert ToolChoice().mode == "auto"


def test_response_formats_of_both_dialects() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    assert ResponseFormat.from_openai({"type": "text"}) is None
    assert ResponseFormat.from_openai({"type": "json_object"}) == ResponseFormat(type="json_object")
    fmt = ResponseFormat.from_openai(
        {"type": "json_schema", "json_schema": {"name": "A", "schema": schema, "strict": True}}
    )
    assert fmt is not None and fmt.json_schema == schema and fmt.name == "A" and fmt.strict
    assert ResponseFormat.from_ollama("") is None and ResponseFormat.from_ollama(None) is None
    assert ResponseFormat.from_ollama("json") == ResponseFormat(type="json_object")
    assert ResponseFormat.from_ollama(schema) == ResponseFormat(type="json_schema", json_schema=schema)
    with pytest.raises(ValueError, match="format must be"):
        ResponseFormat.from_ollama("yaml")
    with pytest.raises(ValidationError, match="needs a schema"):
        ResponseFormat(type="json_schema")


def test_messages_with_calls_and_tool_results() -> None:
    assistant = ChatMessage.model_validate(
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "function": {"name": "f", "arguments": "{}"}}],
        }
    )
    tool = ChatMessage(role="tool", content="42", tool_call_id="c1")
    assert assistant.content == "" and assistant.tool_calls[0].id == "c1" and tool.tool_call_id == "c1"
