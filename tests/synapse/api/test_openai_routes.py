"""OpenAI-compatible routes with the official `openai` client and raw SSE, on a scripted backend."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from tests.synapse.agent.fakes import FakeCortex, ScriptedBackend
from tests.synapse.api.conftest import ServeFn

BEAM = "We want the beam to be stronger, but then it becomes heavier."


def client(url: str, key: str = "none") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)


def sse_events(text: str) -> list[dict]:
    out = []
    for block in text.split("\n\n"):
        if block.startswith("data: ") and block != "data: [DONE]":
            out.append(json.loads(block[6:]))
    return out


def test_models_lists_agents_and_backend_models(serve: ServeFn) -> None:
    server = serve()
    ids = [m.id for m in client(server.url).models.list().data]
    assert ids[:2] == ["triz-agent", "triz-agent-base"] and "triz-td010v2-q4km" in ids


def test_streamed_answer_with_sources_first_and_usage_last(serve: ServeFn) -> None:
    cortex = FakeCortex()
    server = serve(cortex=cortex)
    stream = client(server.url).chat.completions.create(
        model="triz-agent", messages=[{"role": "user", "content": BEAM}], stream=True, max_tokens=50
    )
    chunks = list(stream)
    first, last = chunks[0], chunks[-1]
    extra = first.model_extra or {}
    assert [s["id"] for s in extra["sources"]] == [s.id for s in cortex.sources]
    assert extra["retrieval"]["mode"] == "mix" and extra["retrieval"]["count"] == 3
    assert extra["triz"]["contradictions"] and extra["routing"]["model"] == "triz-td010v2-q4km"
    assert first.choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Use principle one [1]."
    assert last.choices[0].finish_reason == "stop" and last.usage is not None and last.usage.completion_tokens == 4
    assert all("sources" not in (c.model_extra or {}) for c in chunks[1:])


def test_raw_sse_ends_with_done(serve: ServeFn) -> None:
    server = serve()
    body = {"model": "triz-agent", "messages": [{"role": "user", "content": BEAM}], "stream": True}
    r = httpx.post(f"{server.url}/v1/chat/completions", json=body, timeout=30)
    assert r.headers["content-type"].startswith("text/event-stream")
    assert r.text.rstrip().endswith("data: [DONE]")
    events = sse_events(r.text)
    assert "sources" in events[0] and "usage" in events[-1]


def test_plain_answer_carries_sources_usage_and_triz(serve: ServeFn) -> None:
    server = serve()
    reply = client(server.url).chat.completions.create(
        model="triz-agent", messages=[{"role": "user", "content": BEAM}], max_tokens=50
    )
    extra = reply.model_extra or {}
    assert reply.choices[0].message.content == "Use principle one [1]."
    assert reply.usage is not None and reply.usage.total_tokens == 15
    assert len(extra["sources"]) == 3 and extra["triz"]["contradictions"][0]["principles"]


def test_rag_off_per_request(serve: ServeFn) -> None:
    cortex = FakeCortex()
    server = serve(cortex=cortex)
    reply = client(server.url).chat.completions.create(
        model="triz-agent", messages=[{"role": "user", "content": BEAM}], extra_body={"rag": {"mode": "off"}}
    )
    extra = reply.model_extra or {}
    assert extra["sources"] == [] and extra["retrieval"]["mode"] == "off" and cortex.queries == []


def test_cortex_down_still_answers_with_a_warning(serve: ServeFn) -> None:
    server = serve(cortex=FakeCortex(down=True))
    reply = client(server.url).chat.completions.create(model="triz-agent", messages=[{"role": "user", "content": BEAM}])
    extra = reply.model_extra or {}
    assert reply.choices[0].message.content and extra["sources"] == []
    assert any("CORTEX is unavailable" in w for w in extra["warnings"])


def test_backend_down_is_503_naming_the_setting(serve: ServeFn) -> None:
    server = serve(backend=ScriptedBackend(down=True))
    with pytest.raises(openai.InternalServerError) as err:
        client(server.url).chat.completions.create(model="triz-agent", messages=[{"role": "user", "content": "hi"}])
    assert err.value.status_code == 503
    message = err.value.body["message"]  # type: ignore[index]
    assert "SYNAPSE_BACKEND" in message or "OLLAMA_HOST" in message
    health = httpx.get(f"{server.url}/health").json()
    assert health["status"] == "down" and health["backends"][0]["status"] == "down"


def test_health_reports_backends_and_cortex(serve: ServeFn) -> None:
    server = serve()
    health = httpx.get(f"{server.url}/health").json()
    assert health["status"] == "ok" and health["cortex"]["status"] == "ok" and health["backends"][0]["status"] == "ok"


def test_triz_analyze(serve: ServeFn) -> None:
    server = serve()
    r = httpx.post(f"{server.url}/v1/triz/analyze", json={"problem": BEAM, "lang": "en"}, timeout=30)
    body = r.json()
    assert r.status_code == 200 and body["contradictions"] and body["principles"]
    assert body["explanation"] == "Use principle one [1]." and len(body["sources"]) == 3
    r = httpx.post(f"{server.url}/v1/triz/analyze", json={"problem": ""}, timeout=30)
    assert r.status_code == 422 and "problem" in r.json()["error"]["message"]
