"""Where the embedding routes get their vectors: a real CORTEX (in process and over HTTP), Ollama passed through."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import ollama
import openai
import pytest

from cortex.api import create_app as create_cortex_app
from synapse.api import create_app
from synapse.config import CortexSettings, SynapseSettings
from synapse.llm.ollama_backend import OllamaBackend
from synapse.triz import ContradictionAnalyzer
from tests.conftest import HashingEmbedder
from tests.support.fake_ollama import FakeOllama, hashed_embedding
from tests.support.registered import register_embedder
from tests.synapse.agent.fakes import FakeCortex
from tests.synapse.api.conftest import LiveServer, make_agent_for

TEXTS = ["Корпус дрона должен быть легче, но прочнее.", "Cool the chip without a fan."]


@pytest.fixture(autouse=True)
def hashing_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    register_embedder(monkeypatch, HashingEmbedder)


def _openai_rows(url: str, model: str, texts: list[str]) -> list[list[float]]:
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
    return [d.embedding for d in client.embeddings.create(model=model, input=texts).data]


def _no_generation(monkeypatch: pytest.MonkeyPatch) -> None:
    # Embeddings need no generation backend or analyzer vectors: an Ollama nobody serves, the lexicon.
    monkeypatch.setenv("OLLAMA_HOST", "http://127.0.0.1:9")
    monkeypatch.setenv("SYNAPSE_BACKEND", "ollama")
    monkeypatch.setenv("SYNAPSE_EMBEDDER", "none")


def test_in_process_cortex_and_the_api_give_the_same_vectors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _no_generation(monkeypatch)
    monkeypatch.setenv("CORTEX_EMBEDDER", HashingEmbedder.name)
    monkeypatch.setenv("CORTEX_DATA_DIR", str(tmp_path / "cortex"))
    app = create_app(SynapseSettings())
    with LiveServer(app, start_timeout_s=300) as server:
        cortex = app.state.agent.cortex
        health = httpx.get(f"{server.url}/health", timeout=60).json()
        assert health["cortex"]["embedder"] == HashingEmbedder.name
        reference = cortex.embedder.embed(TEXTS)  # the very embedder CORTEX stores its vectors with
        rows = _openai_rows(server.url, "triz-agent", TEXTS)
        ollama_rows = ollama.Client(host=server.url).embed(model=HashingEmbedder.name, input=TEXTS).embeddings
    np.testing.assert_allclose(rows, reference, atol=1e-7)
    np.testing.assert_allclose(ollama_rows, reference, atol=1e-7)


def test_remote_cortex_embedder_is_run_here_by_its_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """CORTEX has no embedding route: SYNAPSE reads the embedder's name from its health and runs it itself."""
    _no_generation(monkeypatch)
    cortex_settings = CortexSettings(data_dir=tmp_path / "cortex", embedder=HashingEmbedder.name)
    cortex_app = create_cortex_app(cortex_settings, embedder=HashingEmbedder(), cache_dir=tmp_path / "cache")
    with LiveServer(cortex_app, start_timeout_s=300) as cortex_server:
        # SYNAPSE's own CORTEX_EMBEDDER says otherwise (as in compose, where only CORTEX sets it).
        monkeypatch.setenv("CORTEX_EMBEDDER", "use-multilingual")
        settings = SynapseSettings(cortex_url=cortex_server.url)
        with LiveServer(create_app(settings), start_timeout_s=300) as server:
            rows = _openai_rows(server.url, "triz-agent-base", TEXTS)
            listed = [m.model for m in ollama.Client(host=server.url).list().models]
    np.testing.assert_allclose(rows, HashingEmbedder().embed(TEXTS), atol=1e-7)
    assert HashingEmbedder.name in listed and "use-multilingual" not in listed


def test_ollama_embedding_models_pass_through(lexicon_analyzer: ContradictionAnalyzer) -> None:
    with FakeOllama(embed_models={"bge-m3": 16}, chat_models=["qwen2.5:14b"]) as fake:
        settings = SynapseSettings(backend="ollama")
        agent = make_agent_for(OllamaBackend(fake.url), FakeCortex(), lexicon_analyzer, settings)
        with LiveServer(create_app(settings, agent=agent)) as server:
            client = ollama.Client(host=server.url)
            rows = _openai_rows(server.url, "bge-m3", TEXTS)
            tagged = client.embed(model="bge-m3:latest", input=TEXTS).embeddings
            legacy = client.embeddings(model="bge-m3", prompt=TEXTS[0]).embedding
            cut = client.embed(model="bge-m3", input=TEXTS[0], dimensions=4).embeddings
            names = {m.model: m for m in client.list().models}
            with pytest.raises(ollama.ResponseError) as missing:
                client.embed(model="nomic-embed-text", input="x")
            agent_rows = client.embed(model="triz-agent", input=TEXTS).embeddings
    expected = [hashed_embedding(t, 16) for t in TEXTS]
    np.testing.assert_allclose(rows, expected, atol=1e-6)
    np.testing.assert_allclose(tagged, expected, atol=1e-6)
    np.testing.assert_allclose(legacy, expected[0], atol=1e-6)
    assert len(cut[0]) == 4 and fake.embeds[-1]["dimensions"] == 4  # Ollama was asked to cut the vectors
    assert missing.value.status_code == 404
    # The agent models stay in CORTEX's space, whatever Ollama serves.
    assert len(agent_rows[0]) == 8
    assert "bge-m3:latest" in names and "fake" in names
