"""Every protection of the API: keys, body size, message count, max_tokens, 422 dialects, queue, disconnects."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import openai
import pytest

from tests.synapse.agent.fakes import ScriptedBackend
from tests.synapse.api.conftest import ServeFn

CHAT = {"model": "triz-agent", "messages": [{"role": "user", "content": "How to cool a chip?"}]}
OLLAMA_CHAT = {**CHAT, "stream": False}


def wait_for(predicate, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.02)


def test_keys_required_everywhere_but_health(serve: ServeFn) -> None:
    server = serve(api_keys="k1,k2")
    url = server.url
    for method, path, body in [
        ("GET", "/v1/models", None),
        ("POST", "/v1/chat/completions", CHAT),
        ("POST", "/v1/triz/analyze", {"problem": "x"}),
        ("GET", "/api/tags", None),
        ("POST", "/api/chat", OLLAMA_CHAT),
        ("GET", "/api/version", None),
        ("GET", "/openapi.json", None),
    ]:
        missing = httpx.request(method, url + path, json=body)
        wrong = httpx.request(method, url + path, json=body, headers={"Authorization": "Bearer nope"})
        assert missing.status_code == 401 and wrong.status_code == 401, path
        if path.startswith("/api/"):
            assert "missing API key" in missing.json()["error"] and "invalid API key" in wrong.json()["error"]
        else:
            assert missing.json()["error"]["type"] == "authentication_error"
    assert httpx.get(f"{url}/health").status_code == 200
    assert httpx.get(f"{url}/v1/models", headers={"Authorization": "Bearer k2"}).status_code == 200
    assert httpx.get(f"{url}/api/tags", headers={"X-API-Key": "k1"}).status_code == 200
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{url}/v1", api_key="bad", max_retries=0).models.list()
    ok = openai.OpenAI(base_url=f"{url}/v1", api_key="k1", max_retries=0)
    assert ok.chat.completions.create(**CHAT).choices[0].message.content  # type: ignore[call-overload]


def test_oversize_body_is_413(serve: ServeFn) -> None:
    server = serve(max_body_bytes=2048)
    big = {**CHAT, "messages": [{"role": "user", "content": "x" * 5000}]}
    r = httpx.post(f"{server.url}/v1/chat/completions", json=big)
    assert r.status_code == 413 and "SYNAPSE_MAX_BODY_BYTES" in r.json()["error"]["message"]
    r = httpx.post(f"{server.url}/api/chat", json={**big, "stream": False})
    assert r.status_code == 413 and "larger than 2048" in r.json()["error"]

    def chunks():  # type: ignore[no-untyped-def]
        # No Content-Length: the limit must hold while the body is read.
        yield b'{"model": "triz-agent", "messages": [{"role": "user", "content": "'
        for _ in range(10):
            yield b"y" * 500
        yield b'"}]}'

    r = httpx.post(f"{server.url}/v1/chat/completions", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_message_count_and_max_tokens_limits(serve: ServeFn) -> None:
    server = serve(max_messages=3, max_tokens_limit=100)
    many = {**CHAT, "messages": [{"role": "user", "content": "a"}] * 4}
    r = httpx.post(f"{server.url}/v1/chat/completions", json=many)
    assert r.status_code == 422 and "SYNAPSE_MAX_MESSAGES" in r.json()["error"]["message"]
    r = httpx.post(f"{server.url}/v1/chat/completions", json={**CHAT, "max_tokens": 101})
    assert r.status_code == 422 and "SYNAPSE_MAX_TOKENS_LIMIT" in r.json()["error"]["message"]
    r = httpx.post(f"{server.url}/api/chat", json={**OLLAMA_CHAT, "options": {"num_predict": 500}})
    assert r.status_code == 422 and "SYNAPSE_MAX_TOKENS_LIMIT" in r.json()["error"]


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("/v1/chat/completions", b"{not json"),
        ("/v1/chat/completions", json.dumps({"model": "triz-agent", "messages": []}).encode()),
        ("/v1/chat/completions", json.dumps({"messages": [{"role": "user", "content": "x"}]}).encode()),
        ("/v1/chat/completions", json.dumps({**CHAT, "temperature": 7}).encode()),
        ("/v1/chat/completions", json.dumps({**CHAT, "rag": {"mode": "deep"}}).encode()),
        ("/api/chat", b"[1, 2"),
        ("/api/chat", json.dumps({"model": "triz-agent", "messages": [{"role": "wizard", "content": "x"}]}).encode()),
        ("/api/generate", json.dumps({"prompt": "x"}).encode()),
    ],
)
def test_malformed_requests_are_422_in_the_route_dialect(serve: ServeFn, path: str, payload: bytes) -> None:
    server = serve()
    r = httpx.post(server.url + path, content=payload, headers={"content-type": "application/json"})
    assert r.status_code == 422
    body = r.json()
    if path.startswith("/api/"):
        assert isinstance(body["error"], str) and body["error"].startswith("invalid request")
    else:
        assert body["error"]["type"] == "invalid_request_error" and body["error"]["message"].startswith(
            "invalid request"
        )


def test_queue_full_is_429_with_retry_after(serve: ServeFn) -> None:
    backend = ScriptedBackend()
    backend.gate.clear()
    server = serve(backend=backend, max_concurrent=1, queue_size=1)

    async def scenario() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            first = asyncio.create_task(http.post("/v1/chat/completions", json=CHAT))
            await asyncio.to_thread(wait_for, lambda: backend.active == 1)
            second = asyncio.create_task(http.post("/v1/chat/completions", json=CHAT))
            await asyncio.to_thread(wait_for, lambda: httpx.get(f"{server.url}/health").json()["queue"]["queued"] == 1)
            third = await http.post("/v1/chat/completions", json=CHAT)
            fourth = await http.post("/api/chat", json=OLLAMA_CHAT)
            backend.gate.set()
            return [await first, await second, third, fourth]

    first, second, third, fourth = asyncio.run(scenario())
    assert first.status_code == 200 and second.status_code == 200
    assert third.status_code == 429 and int(third.headers["Retry-After"]) >= 1
    assert "SYNAPSE_MAX_CONCURRENT" in third.json()["error"]["message"]
    assert fourth.status_code == 429 and "busy" in fourth.json()["error"]


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/api/chat"])
def test_client_disconnect_cancels_and_frees_the_slot(serve: ServeFn, path: str) -> None:
    backend = ScriptedBackend("word " * 200, delay_s=0.02)
    server = serve(backend=backend, max_concurrent=1, queue_size=0)
    body = {**CHAT, "stream": True, "max_tokens": 200}
    with httpx.Client(base_url=server.url, timeout=30) as http, http.stream("POST", path, json=body) as r:
        lines = r.iter_lines()
        for _ in range(3):
            next(lines)
        assert backend.active == 1
    # The connection is closed mid-answer: the generation stops and the slot is free again.
    wait_for(lambda: backend.cancelled == 1 and backend.active == 0)
    wait_for(lambda: httpx.get(f"{server.url}/health").json()["queue"]["active"] == 0)
    backend.answer = "short"
    r = httpx.post(f"{server.url}/v1/chat/completions", json=CHAT, timeout=30)
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "short"
    assert backend.finished == 1


def test_disconnect_while_queued_frees_the_place(serve: ServeFn) -> None:
    backend = ScriptedBackend()
    backend.gate.clear()
    server = serve(backend=backend, max_concurrent=1, queue_size=1)

    async def scenario() -> None:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            first = asyncio.create_task(http.post("/v1/chat/completions", json=CHAT))
            await asyncio.to_thread(wait_for, lambda: backend.active == 1)
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as other:
                queued = asyncio.create_task(other.post("/v1/chat/completions", json=CHAT))
                await asyncio.to_thread(
                    wait_for, lambda: httpx.get(f"{server.url}/health").json()["queue"]["queued"] == 1
                )
                queued.cancel()
            await asyncio.to_thread(wait_for, lambda: httpx.get(f"{server.url}/health").json()["queue"]["queued"] == 0)
            backend.gate.set()
            assert (await first).status_code == 200

    asyncio.run(scenario())
    assert len(backend.calls) == 1


def test_concurrent_streams_do_not_mix(serve: ServeFn) -> None:
    backend = ScriptedBackend(answer=None, delay_s=0.005)
    server = serve(backend=backend, max_concurrent=8)
    questions = [" ".join(f"q{i}w{j}" for j in range(15)) for i in range(6)]

    async def one(http: httpx.AsyncClient, q: str) -> str:
        body = {
            "model": "triz-agent",
            "messages": [{"role": "user", "content": q}],
            "stream": True,
            "rag": {"mode": "off"},
        }
        text = []
        async with http.stream("POST", "/v1/chat/completions", json=body) as r:
            async for line in r.aiter_lines():
                if line.startswith("data: {"):
                    for choice in json.loads(line[6:])["choices"]:
                        text.append(choice["delta"].get("content") or "")
        return "".join(text)

    async def run() -> list[str]:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
            return await asyncio.gather(*(one(http, q) for q in questions))

    assert asyncio.run(run()) == questions
