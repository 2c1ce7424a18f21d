"""CORTEX on Ollama embeddings (CORTEX_EMBEDDER=ollama:<model>), against a local server speaking Ollama's API.

Real LightRAG and file storages in a temp directory; the fake Ollama (`tests.support.fake_ollama`) answers
/api/embed with deterministic word-hashing vectors (768-d for nomic-embed-text, 1024-d for bge-m3).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import ollama
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cortex import Cortex, CortexError, CortexUnavailableError, EmbedderMismatchError, QueryRequest, create_app
from cortex.embedding import OllamaEmbedder, resolve_embedder
from cortex.registry import Registry
from synapse.config import CortexSettings
from tests.cortex.conftest import EN_BRACKET
from tests.support.fake_ollama import FakeOllama

NOMIC = "nomic-embed-text"
MODELS = {NOMIC: 768, "bge-m3": 1024}
PUMPS = "The coolant pumps of the server rack start only above forty degrees, so at night the loop is almost idle."


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOllama]:
    """A running fake Ollama with both embedding models pulled, named by OLLAMA_HOST."""
    with FakeOllama(embed_models=MODELS) as server:
        monkeypatch.setenv("OLLAMA_HOST", server.url)
        yield server


@pytest.fixture(scope="module")
def vector_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Shared by the module's stores: the TRIZ graph's vectors go over HTTP once, later stores reuse them."""
    return tmp_path_factory.mktemp("triz-vectors")


def ollama_store(data_dir: Path, model: str = NOMIC, **overrides: object) -> CortexSettings:
    return CortexSettings(data_dir=data_dir, embedder=f"ollama:{model}", **overrides)  # type: ignore[arg-type]


def embedded_texts(fake: FakeOllama) -> list[str]:
    texts: list[str] = []
    for body in fake.embeds:
        texts += [body["input"]] if isinstance(body["input"], str) else body["input"]
    return texts


def doc_names(result: object) -> list[str]:
    return [s.document or "" for s in result.sources if s.kind == "document"]  # type: ignore[attr-defined]


def test_fake_speaks_ollamas_embedding_api(fake: FakeOllama) -> None:
    client = ollama.Client(host=fake.url)
    one = client.embed(model=NOMIC, input="aluminium bracket with a lattice of ribs")
    many = client.embed(model=f"{NOMIC}:latest", input=["lattice of ribs in a cast bracket", PUMPS])
    assert one.model == NOMIC and len(one.embeddings) == 1 and len(many.embeddings) == 2
    vectors = np.asarray([*one.embeddings, *many.embeddings])
    assert vectors.shape == (3, 768)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]  # shared words make texts similar
    assert (
        client.embed(model=NOMIC, input="same text").embeddings
        == client.embed(model=NOMIC, input="same text").embeddings
    )
    short = client.embed(model=NOMIC, input="cut to size", dimensions=256).embeddings[0]
    assert len(short) == 256 and math.isclose(math.hypot(*short), 1.0, rel_tol=1e-6)
    assert len(client.embed(model="bge-m3", input="x").embeddings[0]) == 1024
    assert len(client.embeddings(model=NOMIC, prompt="the older route").embedding) == 768
    assert sorted(m.model or "" for m in client.list().models) == ["bge-m3:latest", "nomic-embed-text:latest"]
    with pytest.raises(ollama.ResponseError) as missing:
        client.embed(model="mxbai-embed-large", input="x")
    assert missing.value.status_code == 404 and missing.value.error == "model 'mxbai-embed-large' not found"
    bad = httpx.post(f"{fake.url}/api/embed", json={"input": "no model"})
    assert bad.status_code == 400 and "model is required" in bad.json()["error"]


def test_embedder_by_setting_records_its_name_and_dimension(fake: FakeOllama) -> None:
    bge = resolve_embedder("ollama:bge-m3")
    assert isinstance(bge, OllamaEmbedder) and bge.host == fake.url
    assert (bge.name, bge.dim) == ("ollama:bge-m3", 1024)
    vectors = bge.embed(["one text", "another text"])
    assert vectors.shape == (2, 1024) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    with pytest.raises(CortexError, match="names no Ollama model"):
        resolve_embedder("ollama: ")


@pytest.mark.asyncio
async def test_store_on_ollama_embeddings_ingests_retrieves_and_refuses_another_embedder(
    fake: FakeOllama, tmp_path: Path, vector_cache: Path
) -> None:
    data = tmp_path / "store"
    async with Cortex(ollama_store(data), cache_dir=vector_cache) as cortex:
        health = await cortex.health()
        assert (health.embedder, health.dim) == ("ollama:nomic-embed-text", 768) and health.knowledge_version
        bracket = await cortex.add_document("bracket.md", EN_BRACKET.encode())
        pumps = await cortex.add_document("pumps.txt", PUMPS.encode())
        await cortex.wait_idle(60)
        assert [(await cortex.get_document(d.id)).status for d in (bracket, pumps)] == ["processed", "processed"]
        # The documents' chunks went to Ollama, under the configured model.
        assert any("lattice of ribs" in t for t in embedded_texts(fake))
        assert {b["model"] for b in fake.embeds} == {NOMIC}

        hit = await cortex.query(QueryRequest(query="bracket cast with an internal lattice of ribs", mode="naive"))
        assert doc_names(hit)[0] == "bracket.md"
        night = await cortex.query(QueryRequest(query="coolant pumps of the rack at night", mode="mix"))
        assert "pumps.txt" in doc_names(night)
        triz = await cortex.query(QueryRequest(query="make the part lighter without losing strength", mode="hybrid"))
        assert triz.sources[0].id == "triz:matrix:1-14"

    registry = Registry(data / "cortex.sqlite3")
    try:
        manifest = registry.manifest()
    finally:
        registry.close()
    assert manifest is not None and (manifest.embedder, manifest.dim) == ("ollama:nomic-embed-text", 768)

    # Back to the offline default on the same store: refused, naming the command that rebuilds it.
    with pytest.raises(EmbedderMismatchError) as refused:
        await Cortex(CortexSettings(data_dir=data), cache_dir=vector_cache).start()
    assert "ollama:nomic-embed-text (768-d)" in refused.value.message and "use-multilingual" in refused.value.message
    assert "synapse cortex reindex" in str(refused.value)
    # Another Ollama model of another dimension is refused the same way.
    with pytest.raises(EmbedderMismatchError, match="synapse cortex reindex"):
        await Cortex(ollama_store(data, "bge-m3"), cache_dir=vector_cache).start()

    # The refusals left the store as it was: it reopens with its own embedder, documents kept, no rebuild.
    async with Cortex(ollama_store(data), cache_dir=vector_cache) as reopened:
        assert reopened.kg_builds == 0
        assert sorted(d.name for d in await reopened.list_documents()) == ["bracket.md", "pumps.txt"]
        again = await reopened.query(QueryRequest(query="bracket cast with an internal lattice of ribs", mode="naive"))
        assert doc_names(again)[0] == "bracket.md"


@pytest.mark.asyncio
async def test_ollama_down_at_start_names_the_host_and_the_model(fake: FakeOllama, tmp_path: Path) -> None:
    fake.stop()
    with pytest.raises(CortexUnavailableError) as down:
        await Cortex(ollama_store(tmp_path / "store")).start()
    message = str(down.value)
    assert fake.url in message and "OLLAMA_HOST" in message and "ollama:nomic-embed-text" in message
    assert "ollama serve" in (down.value.hint or "")
    # Nothing was locked or half-created: once Ollama is up the same store opens.
    fake.start()
    async with Cortex(ollama_store(tmp_path / "store"), cache_dir=tmp_path / "cache") as cortex:
        assert (await cortex.health()).dim == 768


@pytest.mark.asyncio
async def test_a_model_not_pulled_names_ollama_pull(fake: FakeOllama, tmp_path: Path) -> None:
    with pytest.raises(CortexError) as missing:
        await Cortex(ollama_store(tmp_path / "store", "mxbai-embed-large")).start()
    assert not isinstance(missing.value, CortexUnavailableError)
    assert "mxbai-embed-large" in missing.value.message and fake.url in missing.value.message
    assert "ollama pull mxbai-embed-large" in (missing.value.hint or "")


def test_cli_reports_ollama_down_without_a_traceback(
    fake: FakeOllama, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from synapse.cli import app

    monkeypatch.setenv("CORTEX_DATA_DIR", str(tmp_path / "store"))
    monkeypatch.setenv("CORTEX_EMBEDDER", f"ollama:{NOMIC}")
    fake.stop()
    result = CliRunner().invoke(app, ["cortex", "docs"])
    assert result.exit_code == CortexUnavailableError.exit_code != 0
    output = result.output
    assert "Traceback" not in output and isinstance(result.exception, SystemExit)
    assert "OLLAMA_HOST" in output and "ollama:nomic-embed-text" in output and fake.url in output


def test_ollama_going_down_fails_queries_and_uploads_clearly(
    fake: FakeOllama, tmp_path: Path, vector_cache: Path
) -> None:
    """Over HTTP: a query answers 503 naming OLLAMA_HOST, an upload ends failed saying why; both recover."""
    app = create_app(ollama_store(tmp_path / "store"), cache_dir=vector_cache)
    with TestClient(app) as client:
        question = {"query": "bracket cast with an internal lattice of ribs", "mode": "naive"}
        fake.stop()
        down = client.post("/query", json=question)
        assert down.status_code == 503
        assert "OLLAMA_HOST" in down.text and "nomic-embed-text" in down.text and fake.url in down.text
        upload = client.post("/documents", files={"file": ("bracket.md", EN_BRACKET.encode(), "text/markdown")})
        assert upload.status_code in (200, 201, 202)
        doc_id = upload.json()["id"]
        status = _wait_finished(client, doc_id)
        assert status["status"] == "failed" and "OLLAMA_HOST" in status["error"] and fake.url in status["error"]

        fake.start()
        assert client.post("/query", json=question).status_code == 200
        # A failed document is retried by deleting it and uploading it again.
        assert client.delete(f"/documents/{doc_id}").status_code in (200, 204)
        again = client.post("/documents", files={"file": ("bracket.md", EN_BRACKET.encode(), "text/markdown")})
        assert _wait_finished(client, again.json()["id"])["status"] == "processed"
        hit = client.post("/query", json=question).json()
        assert next(s["document"] for s in hit["sources"] if s["kind"] == "document") == "bracket.md"


def _wait_finished(client: TestClient, doc_id: str) -> dict[str, str]:
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        info: dict[str, str] = client.get(f"/documents/{doc_id}").json()
        if info["status"] in ("processed", "failed"):
            return info
        time.sleep(0.05)
    raise AssertionError(f"document {doc_id} still {info['status']}")
