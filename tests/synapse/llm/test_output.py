"""Planning a request's tools and format, and the collector that turns generated text into deltas."""

from __future__ import annotations

import json
from typing import Any

import pytest

from synapse.llm import GenerationOptions, StreamDelta
from synapse.llm.errors import InvalidToolChoiceError, StructuredOutputError
from synapse.llm.models import ResponseFormat, ToolSpec
from synapse.llm.output import OutputCollector, plan_output

WEATHER = ToolSpec(
    name="get_weather",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
TIME = ToolSpec(name="now")
ANSWER = ResponseFormat(
    type="json_schema",
    json_schema={"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]},
)


def call(name: str = "get_weather", **arguments: Any) -> str:
    return "<tool_call>\n" + json.dumps({"name": name, "arguments": arguments}) + "\n</tool_call>"


def run(text: str, *, truncated: bool = False, pieces: int = 3, **options: Any) -> list[StreamDelta]:
    collector = OutputCollector(plan_output(GenerationOptions(**options)))
    size = max(1, len(text) // pieces)
    out = [d for i in range(0, len(text), size) for d in collector.feed(text[i : i + size])]
    return out + collector.finish(truncated=truncated, prompt_tokens=5, completion_tokens=9)


def test_plans() -> None:
    assert plan_output(GenerationOptions()).callable == {}
    auto = plan_output(GenerationOptions(tools=[WEATHER, TIME]))
    assert not auto.forced and list(auto.callable) == ["get_weather", "now"] and auto.prompt_tools == [WEATHER, TIME]
    named = plan_output(GenerationOptions(tools=[WEATHER, TIME], tool_choice="now", parallel_tool_calls=False))
    assert named.forced and list(named.callable) == ["now"] and not named.parallel
    none = plan_output(GenerationOptions(tools=[WEATHER], tool_choice="none"))
    assert none.callable == {} and none.prompt_tools == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"tool_choice": "required"}, "needs tools"),
        ({"tools": [WEATHER], "tool_choice": "other"}, "'other', which is not among the tools"),
        ({"tools": [WEATHER, WEATHER]}, "same name"),
    ],
)
def test_impossible_tool_choices_are_422(options: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidToolChoiceError, match=message) as err:
        plan_output(GenerationOptions(**options))
    assert err.value.status == 422


def test_auto_call_streams_deltas_and_ends_with_tool_calls() -> None:
    deltas = run("Sure. " + call(city="Oslo"), tools=[WEATHER])
    assert "".join(d.content for d in deltas) == "Sure. "
    parts = [p for d in deltas for p in d.tool_call_deltas]
    assert parts[0].name == "get_weather" and json.loads("".join(p.arguments for p in parts)) == {"city": "Oslo"}
    final = deltas[-1]
    assert final.done and final.finish_reason == "tool_calls" and final.tool_calls[0].id == parts[0].id
    assert (final.prompt_tokens, final.completion_tokens) == (5, 9)


@pytest.mark.parametrize(
    "text",
    [call("unknown_tool", city="Oslo"), call(town="Oslo"), call(city=3), "<tool_call>{oops</tool_call>"],
)
def test_auto_answer_with_an_invalid_call_is_plain_text(text: str) -> None:
    deltas = run(text, tools=[WEATHER])
    assert "".join(d.content for d in deltas) == text
    assert deltas[-1].finish_reason == "stop" and deltas[-1].tool_calls == []


@pytest.mark.parametrize("text", [call(town="Oslo"), "no call at all", call("now")])
def test_forced_call_that_is_not_valid_is_an_error(text: str) -> None:
    with pytest.raises(StructuredOutputError) as err:
        run(text, tools=[WEATHER, TIME], tool_choice="get_weather")
    assert err.value.status == 502


def test_parallel_calls_repeats_and_a_cut_off_last_call() -> None:
    two = call(city="Oslo") + "\n" + call(city="Rome") + "\n" + call(city="Rome")
    assert [c.arguments["city"] for c in run(two, tools=[WEATHER])[-1].tool_calls] == ["Oslo", "Rome"]
    assert len(run(two, tools=[WEATHER], parallel_tool_calls=False)[-1].tool_calls) == 1
    cut = run(
        call(city="Oslo") + '\n<tool_call>\n{"name": "get_we', truncated=True, tools=[WEATHER], tool_choice="required"
    )
    assert cut[-1].finish_reason == "tool_calls" and len(cut[-1].tool_calls) == 1
    assert "".join(d.content for d in cut) == ""


def test_json_answers_are_validated_naming_the_path() -> None:
    ok = run('{"n": 3}', response_format=ANSWER)
    assert "".join(d.content for d in ok) == '{"n": 3}' and ok[-1].finish_reason == "stop"
    with pytest.raises(StructuredOutputError, match=r"at \$\.n: 'x' is not of type 'integer'"):
        run('{"n": "x"}', response_format=ANSWER)
    with pytest.raises(StructuredOutputError, match=r"not valid JSON.*cut off at max_tokens") as err:
        run('{"n": 3', truncated=True, response_format=ANSWER)
    assert err.value.hint == "raise max_tokens"
    with pytest.raises(StructuredOutputError, match="is not of type 'object'"):
        run("[1]", response_format=ResponseFormat(type="json_object"))
    # With tools in auto mode a call is the alternative to the JSON answer.
    assert run(call(city="Oslo"), tools=[WEATHER], response_format=ANSWER)[-1].finish_reason == "tool_calls"


def test_text_mode_passes_text_and_reports_length() -> None:
    deltas = run("plain <tool_call> words", truncated=True)
    assert "".join(d.content for d in deltas) == "plain <tool_call> words" and deltas[-1].finish_reason == "length"
