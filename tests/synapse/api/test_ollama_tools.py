"""Tools, tool results, `format` and `keep_alive` on /api/chat and /api/generate: the exact wire shapes."""

from __future__ import annotations

import json
from typing import Any

import httpx
import ollama
import pytest

from synapse.llm import ChatMessage, GenerationOptions, ResponseFormat
from tests.support.scripted_model import MODEL, PROMPT_TOKENS, ScriptedModel
from tests.synapse.api.conftest import LiveServer, ServeFn

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
ASK = [{"role": "user", "content": "What is the weather in Oslo?"}]
CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>'


def writes(text: str) -> ScriptedModel:
    return ScriptedModel(lambda _messages, _options: text)


def lines(server: LiveServer, body: dict[str, Any]) -> list[dict[str, Any]]:
    r = httpx.post(f"{server.url}/api/chat", json=body, timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/x-ndjson")
    return [json.loads(line) for line in r.text.splitlines()]


def test_a_call_comes_back_whole_with_arguments_as_an_object(serve: ServeFn) -> None:
    backend = writes(CALL)
    server = serve(backend=backend)
    body = {"model": "triz-agent", "messages": ASK, "tools": [WEATHER], "stream": False}
    answer = httpx.post(f"{server.url}/api/chat", json=body).json()
    message = answer["message"]
    [call] = message["tool_calls"]
    assert call["id"].startswith("call_")
    assert call["function"] == {"index": 0, "name": "get_weather", "arguments": {"city": "Oslo"}}
    assert message["content"] == "" and message["role"] == "assistant"
    # Ollama says "stop" after tool calls; the counts are the model's, the tools block and the call included.
    assert answer["done"] is True and answer["done_reason"] == "stop"
    assert answer["prompt_eval_count"] == PROMPT_TOKENS and answer["eval_count"] == len(CALL.split())
    [tool] = backend.calls[-1][1].tools
    assert tool.name == "get_weather" and tool.parameters == WEATHER["function"]["parameters"]  # type: ignore[index]


def test_streamed_calls_come_in_their_own_line_before_the_final_one(serve: ServeFn) -> None:
    server = serve(backend=writes("Let me check. " + CALL))
    got = lines(server, {"model": "triz-agent", "messages": ASK, "tools": [WEATHER]})
    first, *middle, calls, final = got
    assert "sources" in first and first["done"] is False and first["message"]["content"] == ""
    assert "".join(p["message"]["content"] for p in middle) == "Let me check. "
    assert all("tool_calls" not in p["message"] for p in [first, *middle, final])
    assert calls["done"] is False and calls["message"]["content"] == ""
    assert calls["message"]["tool_calls"][0]["function"]["arguments"] == {"city": "Oslo"}
    assert (
        final["done"] is True
        and final["done_reason"] == "stop"
        and final["message"]
        == {
            "role": "assistant",
            "content": "",
        }
    )
    assert final["prompt_eval_count"] == PROMPT_TOKENS and final["eval_count"] == len(("Let me check. " + CALL).split())
    assert final["eval_duration"] > 0


def test_the_ollama_client_reads_streamed_and_whole_calls(serve: ServeFn) -> None:
    server = serve(backend=writes(CALL + "\n" + CALL.replace("Oslo", "Bergen")))
    client = ollama.Client(host=server.url)
    parts = list(client.chat(model="triz-agent", messages=ASK, tools=[WEATHER], stream=True))
    calls = [c for p in parts for c in p.message.tool_calls or []]
    assert [c.function.arguments["city"] for c in calls] == ["Oslo", "Bergen"]
    whole = client.chat(model="triz-agent", messages=ASK, tools=[WEATHER], stream=False)
    assert [c.function.name for c in whole.message.tool_calls or []] == ["get_weather", "get_weather"]
    assert whole.done_reason == "stop" and whole.eval_count


def test_text_or_a_broken_call_is_plain_text_with_tools_offered(serve: ServeFn) -> None:
    server = serve(backend=writes('<tool_call>{"name": "get_weather", "arguments": {"town": 1}}</tool_call>'))
    answer = httpx.post(
        f"{server.url}/api/chat", json={"model": "triz-agent", "messages": ASK, "tools": [WEATHER], "stream": False}
    ).json()
    assert "tool_calls" not in answer["message"] and "get_weather" in answer["message"]["content"]
    empty = httpx.post(
        f"{server.url}/api/chat", json={"model": "triz-agent", "messages": ASK, "tools": [], "stream": False}
    )
    assert empty.status_code == 200 and "tool_calls" not in empty.json()["message"]


def test_a_tool_result_round_trip_reaches_the_model_linked_to_its_call(serve: ServeFn) -> None:
    backend = writes("It is sunny in Oslo.")
    server = serve(backend=backend)
    history = [
        *ASK,
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Oslo"}}}],
        },
        {"role": "tool", "content": "sunny, 18 C", "tool_name": "get_weather"},
    ]
    answer = httpx.post(
        f"{server.url}/api/chat", json={"model": "triz-agent", "messages": history, "tools": [WEATHER], "stream": False}
    ).json()
    assert answer["message"]["content"] == "It is sunny in Oslo." and answer["done_reason"] == "stop"
    sent: list[ChatMessage] = backend.calls[-1][0]
    call_message, result = sent[-2], sent[-1]
    assert call_message.role == "assistant" and call_message.tool_calls[0].arguments == {"city": "Oslo"}
    assert result.role == "tool" and result.content == "sunny, 18 C" and result.name == "get_weather"
    assert result.tool_call_id == call_message.tool_calls[0].id


def test_langchain_style_history_keeps_its_call_ids(serve: ServeFn) -> None:
    backend = writes("Two results.")
    server = serve(backend=backend)
    call = {"type": "function", "id": "lc-1", "function": {"name": "get_weather", "arguments": {"city": "Oslo"}}}
    other = {"type": "function", "id": "lc-2", "function": {"name": "get_weather", "arguments": '{"city": "Bergen"}'}}
    history = [
        *ASK,
        {"role": "assistant", "content": "", "images": [], "tool_calls": [call, other]},
        {"role": "tool", "content": "rain", "tool_call_id": "lc-2", "images": []},
        {"role": "tool", "content": "sun", "tool_call_id": "lc-1", "images": []},
    ]
    r = httpx.post(f"{server.url}/api/chat", json={"model": "triz-agent", "messages": history, "stream": False})
    assert r.status_code == 200, r.text
    sent = backend.calls[-1][0]
    assert [c.arguments["city"] for c in sent[-3].tool_calls] == ["Oslo", "Bergen"]
    assert [(m.tool_call_id, m.name, m.content) for m in sent[-2:]] == [
        ("lc-2", "get_weather", "rain"),
        ("lc-1", "get_weather", "sun"),
    ]


def test_format_json_and_schema_constrain_chat_and_generate(serve: ServeFn) -> None:
    backend = writes('{"principle": 1}')
    server = serve(backend=backend)
    schema = {"type": "object", "properties": {"principle": {"type": "integer"}}, "required": ["principle"]}
    client = ollama.Client(host=server.url)
    reply = client.chat(model="triz-agent", messages=ASK, format=schema, stream=False)
    assert json.loads(reply.message.content or "") == {"principle": 1}
    assert backend.calls[-1][1].response_format == ResponseFormat(type="json_schema", json_schema=schema)
    gen = client.generate(model="triz-agent", prompt="Which principle?", format="json", stream=False)
    assert json.loads(gen.response) == {"principle": 1}
    assert backend.calls[-1][1].response_format == ResponseFormat(type="json_object")
    text = httpx.post(
        f"{server.url}/api/chat", json={"model": "triz-agent", "messages": ASK, "format": "", "stream": False}
    )
    assert text.status_code == 200 and backend.calls[-1][1].response_format is None


def test_an_answer_that_breaks_the_schema_is_an_error_not_text(serve: ServeFn) -> None:
    server = serve(backend=writes('{"principle": "one"}'))
    body = {
        "model": "triz-agent",
        "messages": ASK,
        "format": {"type": "object", "properties": {"principle": {"type": "integer"}}},
    }
    whole = httpx.post(f"{server.url}/api/chat", json={**body, "stream": False})
    assert whole.status_code == 502 and "principle" in whole.json()["error"]
    streamed = lines(server, body)
    assert "error" in streamed[-1] and not streamed[-1].get("done")


@pytest.mark.parametrize("stream", [True, False])
def test_a_schema_or_tools_the_backend_cannot_serve_is_422_before_any_line(serve: ServeFn, stream: bool) -> None:
    server = serve(backend=writes("never"))
    bad_tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": 3}}}
    for extra in ({"tools": [bad_tool]}, {"format": {"type": "nonsense"}}):
        r = httpx.post(
            f"{server.url}/api/chat", json={"model": "triz-agent", "messages": ASK, "stream": stream, **extra}
        )
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/json") and r.json()["error"]


def test_requests_that_do_not_validate_are_422(serve: ServeFn) -> None:
    server = serve(backend=writes("x"))
    bad = [
        {"format": "xml"},
        {"keep_alive": "soon"},
        {"tools": [{"type": "function", "function": {"name": "has space"}}]},
        {"messages": [{"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": "[1]"}}]}, *ASK]},
        {"messages": [{"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": "{oops"}}]}, *ASK]},
        {"tools": [WEATHER] * 129},
    ]
    for extra in bad:
        r = httpx.post(f"{server.url}/api/chat", json={"model": "triz-agent", "messages": ASK, **extra})
        assert r.status_code == 422, (extra, r.text)


def test_keep_alive_is_accepted_in_every_form_ollama_takes(serve: ServeFn) -> None:
    backend = writes("ok")
    server = serve(backend=backend)
    for value, kept in [("5m", "5m"), (0, 0.0), ("300", 300.0), (-1, -1.0), ("1h30m", "1h30m"), (None, None)]:
        r = httpx.post(
            f"{server.url}/api/chat",
            json={"model": "triz-agent", "messages": ASK, "keep_alive": value, "stream": False},
        )
        assert r.status_code == 200, r.text
        options: GenerationOptions = backend.calls[-1][1]
        assert options.keep_alive == kept
    r = httpx.post(f"{server.url}/api/generate", json={"model": "triz-agent", "prompt": "hi", "keep_alive": "10m"})
    assert r.status_code == 200 and backend.calls[-1][1].keep_alive == "10m"


def test_a_cut_off_answer_is_done_reason_length(serve: ServeFn) -> None:
    server = serve(backend=writes("one two three four five"))
    got = lines(server, {"model": "triz-agent", "messages": ASK, "options": {"num_predict": 2}})
    assert got[-1]["done_reason"] == "length" and got[-1]["eval_count"] == 2
    whole = httpx.post(
        f"{server.url}/api/generate",
        json={"model": "triz-agent", "prompt": "count", "options": {"num_predict": 2}, "stream": False},
    ).json()
    assert whole["done_reason"] == "length" and whole["response"] == "one two "


def test_new_fields_and_routes_are_behind_the_keys_and_the_body_limit(serve: ServeFn) -> None:
    server = serve(backend=writes(CALL), api_keys="k", max_body_bytes=4096)
    body = {"model": "triz-agent", "messages": ASK, "tools": [WEATHER], "stream": False}
    assert httpx.post(f"{server.url}/api/chat", json=body).status_code == 401
    assert httpx.get(f"{server.url}/api/ps").status_code == 401
    key = {"X-API-Key": "k"}
    assert httpx.post(f"{server.url}/api/chat", json=body, headers=key).status_code == 200
    assert httpx.get(f"{server.url}/api/ps", headers=key).status_code == 200
    big = {**body, "tools": [WEATHER] * 40}
    too_big = httpx.post(f"{server.url}/api/chat", json=big, headers=key)
    assert too_big.status_code == 413 and "error" in too_big.json()
    schema = {"type": "object", "description": "x" * 5000}
    assert httpx.post(f"{server.url}/api/chat", json={**body, "format": schema}, headers=key).status_code == 413
    assert MODEL
