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


def test_ollama_backend_behind_the_api(lexicon_analyzer) -> None:  # type: ignore[no-untyped-def]
    """SYNAPSE_BACKEND=ollama: the agent streams from an Ollama server (a local one speaking its chat API)."""
    import openai

    from synapse.api import create_app
    from synapse.config import SynapseSettings
    from synapse.llm.ollama_backend import OllamaBackend
    from tests.support.fake_ollama import ollama_chat_server
    from tests.synapse.api.conftest import LiveServer, make_agent_for

    with ollama_chat_server("Segment the boom [1] and use composites [2].") as fake_ollama:
        settings = SynapseSettings(backend="ollama")
        agent = make_agent_for(OllamaBackend(fake_ollama.url), FakeCortex(), lexicon_analyzer, settings)
        with LiveServer(create_app(settings, agent=agent)) as server:
            client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="x", max_retries=0)
            chunks = list(
                client.chat.completions.create(
                    model="triz-agent", messages=[{"role": "user", "content": BEAM}], stream=True, max_tokens=40
                )
            )
            ids = [m.id for m in client.models.list().data]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Segment the boom [1] and use composites [2]."
    assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens == 21
    sent = fake_ollama.bodies[-1]
    assert sent["model"] == "triz-td010v2-q4km" and sent["messages"][0]["role"] == "system"
    assert "[1] (principle) 1. Segmentation" in sent["messages"][0]["content"]
    assert "triz-td010v2-q4km:latest" in ids
