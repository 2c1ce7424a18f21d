"""/api/show, /api/ps and /api/tags in Ollama's shapes, on the embedded path and passed through from Ollama."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import httpx
import ollama
import pytest

from synapse.api import create_app
from synapse.api.ollama_models import capabilities, model_kind, parameters_text
from synapse.config import SynapseSettings
from synapse.llm.ollama_backend import OllamaBackend
from synapse.triz import ContradictionAnalyzer
from tests.support.fake_ollama import CHAT_TEMPLATE, FakeOllama, ollama_chat_server
from tests.support.scripted_model import MODEL, TEMPLATE, ScriptedModel
from tests.synapse.agent.fakes import FakeCortex, ScriptedBackend
from tests.synapse.api.conftest import LiveServer, ServeFn, make_agent_for

ASK = [{"role": "user", "content": "How can a beam be stronger but not heavier?"}]


def test_capabilities_follow_the_kind_and_what_the_backend_says() -> None:
    assert capabilities("chat") == ["completion", "tools"]
    assert capabilities("embedding") == ["embedding"]
    assert capabilities("chat", ["completion"]) == ["completion"]
    assert capabilities("chat", ["completion", "tools", "vision", "thinking"]) == ["completion", "tools"]
    assert model_kind(["embedding"]) == "embedding" and model_kind(["completion", "tools"]) == "chat"
    assert model_kind(None) == "chat"
    assert parameters_text({"stop": ["<|im_end|>", "<|endoftext|>"], "num_ctx": [4096]}) == (
        'stop                           "<|im_end|>"\n'
        'stop                           "<|endoftext|>"\n'
        "num_ctx                        4096"
    )


def test_show_gives_the_backing_models_template_parameters_and_context(serve: ServeFn) -> None:
    server = serve(backend=ScriptedModel(lambda _m, _o: "ok", window=2048))
    client = ollama.Client(host=server.url)
    for name in ("triz-agent", "triz-agent:latest", MODEL):
        shown = client.show(name)
        assert shown.capabilities == ["completion", "tools"]
        assert shown.template == TEMPLATE
        assert shown.modelinfo is not None and shown.modelinfo["qwen2.context_length"] == 32768
        assert shown.modelinfo["general.architecture"] == "qwen2"
        params = (shown.parameters or "").splitlines()
        # The backend's card says what it applies (here the model's 0.7); SYNAPSE's fallback fills only the gaps.
        assert "temperature                    0.7" in params and "num_ctx                        2048" in params
        assert 'stop                           "<|im_end|>"' in params
        assert "top_p                          0.95" in params
        assert "temperature                    0.3" not in params
        assert shown.modelfile is not None and f"FROM {MODEL}\n" in shown.modelfile
    assert client.show("triz-agent").details is not None


def test_show_without_a_card_still_says_what_synapse_serves(serve: ServeFn) -> None:
    server = serve(backend=ScriptedBackend(window=3000))
    shown = httpx.post(f"{server.url}/api/show", json={"model": "triz-agent"}).json()
    assert shown["capabilities"] == ["completion", "tools"] and "template" not in shown
    assert shown["model_info"]["synapse-agent.context_length"] == 3000
    assert "num_ctx                        3000" in shown["parameters"]
    assert httpx.post(f"{server.url}/api/show", json={"name": "triz-td010v2-q4km"}).status_code == 200


def test_ps_lists_the_loaded_model_and_the_agent_models_it_backs(serve: ServeFn) -> None:
    server = serve(backend=ScriptedModel(lambda _m, _o: "ok"), api_keys="k")
    client = ollama.Client(host=server.url, headers={"Authorization": "Bearer k"})
    running = client.ps().models
    assert [m.model for m in running] == ["triz-agent", "triz-agent-base", MODEL]
    listed = {m.model: m for m in client.list().models}
    far = datetime.now(timezone.utc) + timedelta(days=365 * 20)
    for m in running:
        assert m.name == m.model and m.digest == listed[m.model].digest and m.size == 98_000_000
        assert m.size_vram == 0 and m.context_length == 4096
        assert m.expires_at is not None and m.expires_at > far  # Ollama's "Forever"
    assert running[2].details is not None and running[2].details.family == "qwen2"
    assert httpx.get(f"{server.url}/api/ps").status_code == 401


def test_ps_is_empty_when_the_backend_reports_nothing(serve: ServeFn) -> None:
    server = serve(backend=ScriptedBackend())
    assert httpx.get(f"{server.url}/api/ps").json() == {"models": []}


@pytest.fixture
def on_ollama(lexicon_analyzer: ContradictionAnalyzer) -> Iterator[tuple[LiveServer, FakeOllama]]:
    """SYNAPSE_BACKEND=ollama in front of the fake Ollama, which also has a model without a tools template."""
    fake = ollama_chat_server("Segment the beam [1].")
    fake.chat_models.add("llama-factory-export:latest")
    fake.toolless_models.add("llama-factory-export:latest")
    with fake:
        settings = SynapseSettings(backend="ollama")
        agent = make_agent_for(OllamaBackend(fake.url), FakeCortex(), lexicon_analyzer, settings)
        with LiveServer(create_app(settings, agent=agent)) as server:
            yield server, fake


def test_show_passes_ollamas_own_answer_through(on_ollama: tuple[LiveServer, FakeOllama]) -> None:
    server, _ = on_ollama
    client = ollama.Client(host=server.url)
    shown = client.show("triz-agent")
    assert shown.capabilities == ["completion", "tools"] and shown.template == CHAT_TEMPLATE
    assert shown.modelinfo is not None and shown.modelinfo["qwen2.context_length"] == 32768
    # Ollama's own num_ctx gives way to the one SYNAPSE's backend sends.
    assert "num_ctx                        4096" in (shown.parameters or "")
    assert "FROM triz-td010v2-q4km\n" in (shown.modelfile or "")
    assert client.show("llama-factory-export:latest").capabilities == ["completion"]
    assert client.show("nomic-embed-text:latest").capabilities == ["embedding"]


def test_ps_passes_ollamas_through_and_keep_alive_reaches_it(on_ollama: tuple[LiveServer, FakeOllama]) -> None:
    server, fake = on_ollama
    client = ollama.Client(host=server.url)
    assert client.ps().models == []
    client.chat(model="triz-agent", messages=ASK, keep_alive=-1, stream=False)
    assert fake.chats[-1]["keep_alive"] == -1
    running = client.ps().models
    assert [m.model for m in running] == ["triz-agent", "triz-td010v2-q4km:latest"]
    tags = {m.model: m.digest for m in client.list().models}
    assert running[1].digest == tags["triz-td010v2-q4km:latest"] != running[0].digest
    assert running[0].digest == tags["triz-agent"]
    assert running[1].details is not None and running[1].details.parameter_size == "1.5B"
    assert running[1].size_vram == 1000 and running[1].expires_at is not None
    assert running[1].expires_at > datetime.now(timezone.utc) + timedelta(days=365 * 20)
    client.chat(model="triz-agent", messages=ASK, keep_alive="10m", stream=False)
    assert fake.chats[-1]["keep_alive"] == "10m"
    soon = client.ps().models[1].expires_at
    assert soon is not None and soon < datetime.now(timezone.utc) + timedelta(minutes=11)
    client.chat(model="triz-agent", messages=ASK, keep_alive=0, stream=False)
    assert client.ps().models == []
    client.chat(model="triz-agent", messages=ASK, stream=False)
    assert "keep_alive" not in fake.chats[-1]


def test_ps_answers_when_ollama_is_down(on_ollama: tuple[LiveServer, FakeOllama]) -> None:
    server, fake = on_ollama
    fake.stop()
    r = httpx.get(f"{server.url}/api/ps")
    assert r.status_code == 200 and r.json() == {"models": []}
    assert httpx.post(f"{server.url}/api/show", json={"model": "triz-agent"}).status_code == 200
