"""The Hermes-style tool-call parser: one call, several, text around, broken JSON, string arguments, streaming."""

from __future__ import annotations

import json

import pytest

from synapse.llm import ChatMessage
from synapse.llm.models import ToolCall
from synapse.llm.tool_calls import ToolCallSplitter, call_deltas, fill_tool_names, parse_tool_calls

ONE = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'


def test_one_call() -> None:
    parsed = parse_tool_calls(ONE)
    assert parsed.content == ""
    [call] = parsed.calls
    assert call.name == "get_weather" and call.arguments == {"city": "Paris"}
    assert call.id.startswith("call_") and len(call.id) > 10


def test_several_calls_get_their_own_ids() -> None:
    text = ONE + "\n" + ONE.replace("Paris", "Oslo") + '\n<tool_call>\n{"name": "time", "arguments": {}}\n</tool_call>'
    parsed = parse_tool_calls(text)
    assert [c.arguments.get("city") for c in parsed.calls] == ["Paris", "Oslo", None]
    assert parsed.content == "" and len({c.id for c in parsed.calls}) == 3


def test_text_before_and_after_stays_text() -> None:
    parsed = parse_tool_calls("Let me check.\n" + ONE + "\nDone, one moment.")
    assert parsed.content == "Let me check.\nDone, one moment." and len(parsed.calls) == 1


@pytest.mark.parametrize(
    "block",
    [
        '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}</tool_call>',  # a brace short
        "<tool_call>get_weather(city='Paris')</tool_call>",
        '<tool_call>{"arguments": {"city": "Paris"}}</tool_call>',  # no name
        '<tool_call>["get_weather"]</tool_call>',
        '<tool_call>{"name": "get_weather", "arguments": "not json"}</tool_call>',
        '<tool_call>{"name": "get_weather", "arguments": [1, 2]}</tool_call>',
    ],
)
def test_broken_blocks_stay_plain_text(block: str) -> None:
    parsed = parse_tool_calls("before " + block + " after")
    assert parsed.calls == [] and parsed.content == "before " + block + " after"


def test_arguments_as_a_json_string_or_an_object() -> None:
    as_string = '<tool_call>{"name": "f", "arguments": "{\\"n\\": 2, \\"s\\": \\"x\\"}"}</tool_call>'
    as_object = '<tool_call>{"name": "f", "arguments": {"n": 2, "s": "x"}}</tool_call>'
    assert parse_tool_calls(as_string).calls[0].arguments == parse_tool_calls(as_object).calls[0].arguments
    # Missing arguments are an empty object; some models write "parameters".
    assert parse_tool_calls('<tool_call>{"name": "now"}</tool_call>').calls[0].arguments == {}
    assert parse_tool_calls('<tool_call>{"name": "f", "parameters": {"a": 1}}</tool_call>').calls[0].arguments == {
        "a": 1
    }


def test_an_unclosed_last_block_is_read_when_it_parses() -> None:
    assert parse_tool_calls(ONE.removesuffix("</tool_call>")).calls[0].arguments == {"city": "Paris"}
    assert parse_tool_calls('<tool_call>{"name": "f", "argu').content == '<tool_call>{"name": "f", "argu'


def test_streamed_pieces_give_the_same_split_and_hold_back_a_tag_start() -> None:
    text = "Checking <b>now</b>:\n" + ONE + "\n<tool"
    splitter = ToolCallSplitter()
    pieces = [p for ch in text for p in splitter.feed(ch)] + splitter.finish()
    texts = [p for p in pieces if isinstance(p, str)]
    calls = [p.call for p in pieces if not isinstance(p, str)]
    # "<b>" is passed on once it cannot be a tag any more; the trailing "<tool" is text at the end; the line
    # breaks around the call go with it.
    assert "".join(texts) == "Checking <b>now</b>:<tool"
    assert len(calls) == 1 and calls[0] is not None and calls[0].name == "get_weather"
    first = ToolCallSplitter()
    assert first.feed("Hello <tool_") == ["Hello "] and first.feed("call>{") == [] and first.blocks == 0


def test_plain_whitespace_is_kept_without_calls() -> None:
    assert parse_tool_calls("  \n").content == "  \n"
    assert parse_tool_calls("\n" + ONE + "\n\n").content == ""


def test_call_deltas_reassemble_into_the_arguments() -> None:
    call = ToolCall(name="search", arguments={"query": "beam cooling " * 10, "top_k": 3})
    deltas = call_deltas(call, 2)
    assert deltas[0].id == call.id and deltas[0].name == "search" and all(d.index == 2 for d in deltas)
    assert all(d.id is None and d.name is None for d in deltas[1:]) and len(deltas) > 2
    assert json.loads("".join(d.arguments for d in deltas)) == call.arguments


def test_tool_messages_get_the_name_of_the_call_they_answer() -> None:
    call = ToolCall(id="call_1", name="get_weather", arguments={})
    messages = [
        ChatMessage(role="assistant", tool_calls=[call]),
        ChatMessage(role="tool", tool_call_id="call_1", content="sunny"),
        ChatMessage(role="tool", tool_call_id="call_9", content="?"),
    ]
    filled = fill_tool_names(messages)
    assert filled[1].name == "get_weather" and filled[2].name is None and messages[1].name is None
