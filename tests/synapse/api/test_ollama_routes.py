"""Ollama-compatible routes with the official `ollama` client."""

from __future__ import annotations

import json

import httpx
import ollama
import pytest

from tests.synapse.agent.fakes import FakeCortex, ScriptedBackend
from tests.synapse.api.conftest import ServeFn

BEAM = "We want the beam to be stronger, but then it becomes heavier."


def test_version_tags_and_show(serve: ServeFn) -> None:
    server = serve(api_keys="sekret")
    client = ollama.Client(host=server.url, headers={"Authorization": "Bearer sekret"})
    names = [m.model for m in client.list().models]
    assert names[:2] == ["triz-agent", "triz-agent-base"] and "triz-td010v2-q4km" in names
    shown = client.show("triz-agent")
    assert shown.details is not None and "completion" in (shown.capabilities or [])
    version = httpx.get(f"{server.url}/api/version", headers={"X-API-Key": "sekret"}).json()
    assert version["version"]
    with pytest.raises(ollama.ResponseError) as err:
        client.show("nope")
    assert err.value.status_code == 404


def test_chat_streams_ndjson_with_final_counts(serve: ServeFn) -> None:
    cortex = FakeCortex()
    server = serve(cortex=cortex)
    client = ollama.Client(host=server.url)
    parts = list(client.chat(model="triz-agent:latest", messages=[{"role": "user", "content": BEAM}], stream=True))
    text = "".join(p.message.content or "" for p in parts)
    final = parts[-1]
    assert text == "Use principle one [1]."
    assert final.done and final.done_reason == "stop" and final.eval_count == 4 and final.prompt_eval_count == 11
    assert all(not p.done for p in parts[:-1])
    raw = httpx.post(
        f"{server.url}/api/chat", json={"model": "triz-agent", "messages": [{"role": "user", "content": BEAM}]}
    )
    first = json.loads(raw.text.splitlines()[0])
    assert len(first["sources"]) == 3 and first["done"] is False


def test_chat_without_stream_and_generate(serve: ServeFn) -> None:
    server = serve(backend=ScriptedBackend(answer=None))
    client = ollama.Client(host=server.url)
    reply = client.chat(model="triz-agent", messages=[{"role": "user", "content": "echo me please"}], stream=False)
    assert reply.message.content == "echo me please" and reply.done and reply.eval_count == 3
    gen = client.generate(model="triz-agent", prompt="say it back", system="You are terse.", stream=False)
    assert gen.response == "say it back" and gen.done
    streamed = list(
        client.generate(model="triz-agent", prompt="one two three", stream=True, options={"num_predict": 2})
    )
    assert "".join(p.response or "" for p in streamed) == "one two" and streamed[-1].done
    loaded = client.chat(model="triz-agent", messages=[])
    assert loaded.done and loaded.done_reason == "load"


def test_backend_down_is_503_in_ollama_dialect(serve: ServeFn) -> None:
    server = serve(backend=ScriptedBackend(down=True))
    with pytest.raises(ollama.ResponseError) as err:
        ollama.Client(host=server.url).chat(
            model="triz-agent", messages=[{"role": "user", "content": "hi"}], stream=False
        )
    assert err.value.status_code == 503 and "SYNAPSE_" in err.value.error
