"""Tool calls, JSON answers and stream usage under /v1, on a scripted backend: the exact wire shapes."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, Field

from synapse.llm import ChatMessage
from tests.synapse.agent.fakes import FakeCortex, ScriptedBackend
from tests.synapse.api.conftest import ServeFn

URL = "/v1/chat/completions"
ASK = "What is the weather in Paris?"
WEATHER: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
            "required": ["city"],
        },
    },
}
CALL_TEXT = (
    '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris, Île-de-France", "unit": "c"}}\n</tool_call>'
)
ARGS = {"city": "Paris, Île-de-France", "unit": "c"}


def client(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key="none", max_retries=0)


def sse_events(text: str) -> list[dict[str, Any]]:
    return [json.loads(b[6:]) for b in text.split("\n\n") if b.startswith("data: ") and b != "data: [DONE]"]


def post(url: str, **body: Any) -> httpx.Response:
    payload = {"model": "triz-agent", "messages": [{"role": "user", "content": ASK}], **body}
    return httpx.post(url + URL, json=payload, timeout=30)


def calling(*answers: str) -> ScriptedBackend:
    return ScriptedBackend(CALL_TEXT, answers=answers, parse_output=True)


def test_a_forced_call_in_openai_shape(serve: ServeFn) -> None:
    backend = calling()
    server = serve(backend=backend)
    r = post(server.url, tools=[WEATHER], tool_choice="required", parallel_tool_calls=False)
    body = r.json()
    choice = body["choices"][0]
    call = choice["message"]["tool_calls"][0]
    assert r.status_code == 200 and choice["finish_reason"] == "tool_calls"
    assert choice["message"] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": call["id"],
                "type": "function",
                "function": {"name": "get_weather", "arguments": call["function"]["arguments"]},
            }
        ],
    }
    assert call["id"].startswith("call_") and json.loads(call["function"]["arguments"]) == ARGS
    assert len(body["sources"]) == 3 and body["routing"]["route"] in ("triz", "base")
    options = backend.calls[-1][2]
    assert [t.name for t in options.tools] == ["get_weather"] and options.tools[0].parameters == WEATHER["function"][
        "parameters"
    ]
    assert options.tool_choice.mode == "required" and options.parallel_tool_calls is False


def test_named_tool_choice_and_response_format_reach_the_backend(serve: ServeFn) -> None:
    backend = ScriptedBackend('{"city": "Paris"}', parse_output=True)
    server = serve(backend=backend)
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    fmt = {"type": "json_schema", "json_schema": {"name": "City", "schema": schema, "strict": True}}
    named = {"type": "function", "function": {"name": "get_weather"}}
    reply = client(server.url).chat.completions.create(
        model="triz-agent",
        messages=[{"role": "user", "content": ASK}],
        response_format=fmt,  # type: ignore[arg-type]
    )
    assert json.loads(reply.choices[0].message.content or "") == {"city": "Paris"}
    assert reply.choices[0].finish_reason == "stop" and reply.choices[0].message.tool_calls is None
    sent = backend.calls[-1][2].response_format
    assert sent is not None and sent.type == "json_schema" and sent.json_schema == schema and sent.name == "City"
    post(server.url, tools=[WEATHER], tool_choice=named, response_format={"type": "json_object"})
    options = backend.calls[-1][2]
    assert options.tool_choice.mode == "function" and options.tool_choice.function == "get_weather"
    assert options.response_format is not None and options.response_format.type == "json_object"
    post(server.url, response_format={"type": "text"})
    assert backend.calls[-1][2].response_format is None


def test_an_answer_that_is_not_the_requested_json_is_502(serve: ServeFn) -> None:
    server = serve(backend=ScriptedBackend("not json", parse_output=True))
    r = post(server.url, response_format={"type": "json_object"})
    assert r.status_code == 502 and r.json()["error"]["code"] == "structured_output"


def test_an_agent_loop_keeps_calls_and_results_structured(serve: ServeFn) -> None:
    backend = calling(CALL_TEXT, "It is sunny in Paris [1].")
    cortex = FakeCortex()
    server = serve(backend=backend, cortex=cortex)
    oa = client(server.url)
    messages: list[Any] = [{"role": "user", "content": ASK}]
    first = oa.chat.completions.create(model="triz-agent", messages=messages, tools=[WEATHER])  # type: ignore[list-item]
    calls = first.choices[0].message.tool_calls or []
    assert first.choices[0].finish_reason == "tool_calls" and len(calls) == 1
    messages.append(first.choices[0].message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": calls[0].id, "content": '{"sky": "sunny"}'})
    final = oa.chat.completions.create(model="triz-agent", messages=messages, tools=[WEATHER])  # type: ignore[list-item]
    assert final.choices[0].message.content == "It is sunny in Paris [1]." and final.choices[0].finish_reason == "stop"
    assert len((final.model_extra or {})["sources"]) == 3
    sent: list[ChatMessage] = backend.calls[-1][0]
    assistant = next(m for m in sent if m.tool_calls)
    tool = sent[-1]
    assert assistant.tool_calls[0].id == calls[0].id and assistant.tool_calls[0].arguments == ARGS
    assert tool.role == "tool" and tool.tool_call_id == calls[0].id and tool.content == '{"sky": "sunny"}'
    assert cortex.queries[-1].query == ASK  # retrieval keyed on the question, not on the tool result


def test_streamed_call_deltas_in_openai_shape(serve: ServeFn) -> None:
    server = serve(backend=calling())
    r = post(server.url, tools=[WEATHER], tool_choice="required", stream=True)
    events = sse_events(r.text)
    pieces = [
        e["choices"][0]["delta"]["tool_calls"]
        for e in events
        if e["choices"] and "tool_calls" in e["choices"][0]["delta"]
    ]
    assert len(pieces) >= 2 and all(len(p) == 1 and p[0]["index"] == 0 for p in pieces)
    head, rest = pieces[0][0], [p[0] for p in pieces[1:]]
    assert head["id"].startswith("call_") and head["type"] == "function" and head["function"]["name"] == "get_weather"
    assert all(set(p) == {"index", "function"} and set(p["function"]) == {"arguments"} for p in rest)
    arguments = head["function"]["arguments"] + "".join(p["function"]["arguments"] for p in rest)
    assert json.loads(arguments) == ARGS
    assert events[-1]["choices"][0]["finish_reason"] == "tool_calls" and "usage" in events[-1]
    assert r.text.rstrip().endswith("data: [DONE]")


def test_the_openai_client_reassembles_a_streamed_call(serve: ServeFn) -> None:
    server = serve(backend=calling())
    with client(server.url).chat.completions.stream(
        model="triz-agent",
        messages=[{"role": "user", "content": ASK}],
        tools=[WEATHER],
        tool_choice="required",  # type: ignore[list-item]
    ) as stream:
        for _ in stream:
            pass
        done = stream.get_final_completion()
    calls = done.choices[0].message.tool_calls or []
    assert done.choices[0].finish_reason == "tool_calls" and len(calls) == 1
    assert calls[0].function.name == "get_weather" and json.loads(calls[0].function.arguments) == ARGS


def test_include_usage_ends_with_a_usage_chunk(serve: ServeFn) -> None:
    server = serve()
    chunks = list(
        client(server.url).chat.completions.create(
            model="triz-agent",
            messages=[{"role": "user", "content": ASK}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    last, finish = chunks[-1], chunks[-2]
    assert last.choices == [] and last.usage is not None and last.usage.completion_tokens == 4
    assert last.usage.total_tokens == last.usage.prompt_tokens + 4
    assert finish.choices[0].finish_reason == "stop" and finish.usage is None
    assert all(c.usage is None for c in chunks[:-1])
    r = post(server.url, stream=True, stream_options={"include_usage": False})
    events = sse_events(r.text)
    assert events[-1]["choices"][0]["finish_reason"] == "stop" and events[-1]["usage"]["completion_tokens"] == 4


@pytest.mark.parametrize("stream", [False, True])
def test_every_finish_reason_is_reported(serve: ServeFn, stream: bool) -> None:
    server = serve(backend=ScriptedBackend("one two three four five", answers=[CALL_TEXT], parse_output=True))

    def reason(**body: Any) -> str:
        r = post(server.url, stream=stream, **body)
        data = sse_events(r.text)[-1] if stream else r.json()
        return str(data["choices"][0]["finish_reason"])

    assert reason(tools=[WEATHER]) == "tool_calls"
    assert reason(max_tokens=2) == "length"
    assert reason() == "stop"


def test_auto_with_a_plain_answer_is_text(serve: ServeFn) -> None:
    server = serve(backend=ScriptedBackend("It is sunny.", parse_output=True))
    reply = client(server.url).chat.completions.create(
        model="triz-agent",
        messages=[{"role": "user", "content": ASK}],
        tools=[WEATHER],
        tool_choice="auto",  # type: ignore[list-item]
    )
    assert reply.choices[0].message.content == "It is sunny." and reply.choices[0].message.tool_calls is None
    assert reply.choices[0].finish_reason == "stop"


def test_text_beside_a_call_is_kept(serve: ServeFn) -> None:
    server = serve(backend=ScriptedBackend(f"Let me check. {CALL_TEXT}", parse_output=True))
    message = post(server.url, tools=[WEATHER]).json()["choices"][0]["message"]
    assert (
        message["content"].strip() == "Let me check." and message["tool_calls"][0]["function"]["name"] == "get_weather"
    )


HISTORY_CALL = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
BAD = [
    ({"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "other"}}}, "tool_choice"),
    ({"tool_choice": "required"}, "tool_choice"),
    ({"tools": [WEATHER, WEATHER]}, "tools.1.function.name"),
    (
        {"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": 5}}}]},
        "tools.0.function.parameters",
    ),
    (
        {"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "nope"}}}},
        "response_format.json_schema.schema",
    ),
    ({"response_format": {"type": "xml"}}, "response_format"),
    ({"tools": [{"type": "function", "function": {"name": "bad name"}}]}, "tools.0.function.name"),
    ({"tool_choice": "sometimes"}, "tool_choice"),
    ({"stream_options": {"include_usage": "yes"}}, "stream_options.include_usage"),
    (
        {
            "messages": [
                {"role": "user", "content": ASK},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [{**HISTORY_CALL, "function": {"name": "f", "arguments": "{oops"}}],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": "x"},
            ]
        },
        "messages.1.tool_calls.0.function.arguments",
    ),
    (
        {
            "messages": [
                {"role": "user", "content": ASK},
                {"role": "assistant", "tool_calls": [HISTORY_CALL]},
                {"role": "tool", "content": "x"},
            ]
        },
        "messages.2.tool_call_id",
    ),
    (
        {"messages": [{"role": "user", "content": ASK, "tool_calls": [HISTORY_CALL]}]},
        "messages.0.tool_calls",
    ),
]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(("body", "param"), BAD)
def test_refused_fields_are_422_naming_the_param(
    serve: ServeFn, body: dict[str, Any], param: str, stream: bool
) -> None:
    server = serve()
    r = post(server.url, stream=stream, **body)
    error = r.json()["error"]
    assert r.status_code == 422, r.text
    assert error["type"] == "invalid_request_error" and error["param"] == param, error


class EmbeddedScripted(ScriptedBackend):
    """A scripted backend that reports itself as the embedded one, whose schemas become grammars."""

    kind = "llamacpp"


def test_a_schema_the_grammar_cannot_express_is_422_before_a_stream(serve: ServeFn) -> None:
    server = serve(backend=EmbeddedScripted(parse_output=True))
    schema = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 3}}}
    fmt = {"type": "json_schema", "json_schema": {"name": "N", "schema": schema}}
    r = post(server.url, stream=True, response_format=fmt)
    error = r.json()["error"]
    assert r.status_code == 422 and error["code"] == "unsupported_schema", r.text
    assert error["param"] == "response_format.json_schema.schema" and "minimum" in error["message"]


def test_a_huge_tools_list_is_refused(serve: ServeFn) -> None:
    server = serve(max_body_bytes=64_000, api_keys="k")
    headers = {"Authorization": "Bearer k"}
    many = [{"type": "function", "function": {"name": f"f{i}"}} for i in range(129)]
    payload = {"model": "triz-agent", "messages": [{"role": "user", "content": ASK}]}
    r = httpx.post(server.url + URL, json={**payload, "tools": many}, headers=headers, timeout=30)
    assert r.status_code == 422 and r.json()["error"]["param"] == "tools"
    big = [
        {**WEATHER, "function": {**WEATHER["function"], "name": f"f{i}", "description": "x" * 1000}} for i in range(100)
    ]
    r = httpx.post(server.url + URL, json={**payload, "tools": big}, headers=headers, timeout=30)
    assert r.status_code == 413
    r = httpx.post(server.url + URL, json={**payload, "tools": [WEATHER], "tool_choice": "required"}, timeout=30)
    assert r.status_code == 401


def test_the_param_names_fields_as_the_client_wrote_them() -> None:
    from synapse.api.errors import request_field

    body = {"response_format": {"type": "json_schema", "json_schema": {}}, "stop": 5}
    missing = [{"loc": ("body", "response_format", "json_schema", "json_schema", "name"), "type": "missing"}]
    assert request_field(missing, body) == "response_format.json_schema.name"
    union = [{"loc": ("body", "stop", "str"), "type": "string_type"}, {"loc": ("body", "stop", "list[str]")}]
    assert request_field(union, body) == "stop"
    assert request_field([{"loc": ("body",), "type": "missing"}], body) is None


class Weather(BaseModel):
    """The weather in a city."""

    city: str = Field(max_length=30)
    temperature_c: int


@pytest.mark.parametrize("method", ["json_schema", "function_calling", "json_mode"])
def test_langchain_structured_output_by_every_method(serve: ServeFn, method: str) -> None:
    json_answer = '{"city": "Paris", "temperature_c": 21}'
    call = '<tool_call>\n{"name": "Weather", "arguments": ' + json_answer + "}\n</tool_call>"
    backend = ScriptedBackend(call if method == "function_calling" else json_answer, parse_output=True)
    server = serve(backend=backend)
    llm = ChatOpenAI(model="triz-agent", base_url=f"{server.url}/v1", api_key="none", max_retries=0)
    structured = llm.with_structured_output(Weather, method=method)  # type: ignore[arg-type]
    assert structured.invoke("Paris, 21 degrees.") == Weather(city="Paris", temperature_c=21)
    options = backend.calls[-1][2]
    if method == "function_calling":
        assert options.tool_choice.function == "Weather" and options.response_format is None
    else:
        wanted = "json_object" if method == "json_mode" else method
        assert options.response_format is not None and options.response_format.type == wanted
    assert list(structured.stream("Paris, 21 degrees."))[-1] == Weather(city="Paris", temperature_c=21)
