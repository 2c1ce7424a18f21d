"""LightRAG's entity extraction with CORTEX_LLM_MODEL set, against a local server speaking Ollama's chat API.

Real LightRAG and file storages in a temp directory, LightRAG's own Ollama binding; the fake Ollama
answers LightRAG's extraction prompt like a capable model (`tests.cortex.lightrag_replies`). The
embedder is the fast hashing fake: the embedding path is tested in test_ollama_embeddings.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ollama
import pytest
from lightrag.operate import (  # type: ignore[import-untyped]
    _process_extraction_result,
    _process_json_extraction_result,
)

from cortex import Cortex, DocumentInfo, QueryRequest
from cortex.knowledge_graph import TRIZ_PREFIX
from synapse.config import CortexSettings
from tests.conftest import HashingEmbedder
from tests.cortex.lightrag_replies import COMPLETE, TUPLE, extraction_records, lightrag_reply
from tests.support.fake_ollama import FakeOllama, FakeOllamaError

QWEN = "qwen2.5:14b-instruct-q4_k_m"
HELIOS = (
    "Helios Aerospace builds the Falcon Bracket in Toulouse. The Falcon Bracket uses a Titanium Lattice of hollow "
    "ribs, so the part is lighter and keeps its strength."
)
HELIOS_ENTITIES = {"Helios Aerospace", "Falcon Bracket", "Toulouse", "Titanium Lattice"}
ORION = "Orion Labs cools the Vega Rack with a Glycol Loop. The Glycol Loop runs only at night."
ORION_ENTITIES = {"Orion Labs", "Vega Rack", "Glycol Loop"}


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOllama]:
    """A running fake Ollama with the chat model pulled, named by OLLAMA_HOST."""
    with FakeOllama(chat_models=[QWEN], chat_reply=lightrag_reply) as server:
        monkeypatch.setenv("OLLAMA_HOST", server.url)
        yield server


def llm_cortex(tmp_path: Path, model: str = QWEN) -> Cortex:
    settings = CortexSettings(data_dir=tmp_path / "store", llm_model=model)  # type: ignore[call-arg]
    return Cortex(settings, embedder=HashingEmbedder(), cache_dir=tmp_path / "cache")


async def graph_of(cortex: Cortex) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    graph = cortex.rag.chunk_entity_relation_graph
    nodes = {str(n["entity_id"]): n for n in await graph.get_all_nodes()}
    return nodes, list(await graph.get_all_edges())


def triz_part(nodes: dict[str, dict[str, Any]], edges: list[dict[str, Any]]) -> tuple[set[str], int]:
    triz = {name for name, n in nodes.items() if str(n.get("file_path", "")).startswith(TRIZ_PREFIX)}
    return triz, sum(1 for e in edges if e["source"] in triz and e["target"] in triz)


def extraction_chats(fake: FakeOllama) -> list[dict[str, Any]]:
    return [c for c in fake.chats if "---Input Text---" in c["messages"][-1]["content"]]


async def upload_while_ollama_is_down(cortex: Cortex, fake: FakeOllama) -> DocumentInfo:
    """Upload ORION with Ollama stopped; the document must end failed."""
    fake.stop()
    doc = await cortex.add_document("rack.md", ORION.encode())
    await cortex.wait_idle(60)
    failed = await cortex.get_document(doc.id)
    assert failed.status == "failed"
    return failed


@pytest.mark.asyncio
async def test_replies_parse_with_lightrags_own_parsers() -> None:
    records = extraction_records(HELIOS)
    assert records.endswith(COMPLETE) and f"relation{TUPLE}Helios Aerospace{TUPLE}Falcon Bracket{TUPLE}" in records
    nodes, edges = await _process_extraction_result(records, "chunk-1", 0, "doc-1")
    assert set(nodes) == HELIOS_ENTITIES
    assert nodes["Helios Aerospace"][0]["entity_type"] == "organization"
    assert ("Helios Aerospace", "Falcon Bracket") in edges and ("Falcon Bracket", "Titanium Lattice") in edges
    prompt = {
        "format": "json",
        "messages": [
            {"role": "system", "content": "You are a Knowledge Graph Specialist ..."},
            {"role": "user", "content": f"---Input Text---\n```\n{ORION}\n```\n\n---Output---\n"},
        ],
    }
    json_nodes, json_edges = await _process_json_extraction_result(lightrag_reply(prompt), "chunk-2", 0, "doc-2")
    assert set(json_nodes) == ORION_ENTITIES and ("Orion Labs", "Vega Rack") in json_edges


def test_fake_speaks_ollamas_chat_api(fake: FakeOllama) -> None:
    client = ollama.Client(host=fake.url)
    messages = [
        {"role": "system", "content": "You are a Knowledge Graph Specialist."},
        {"role": "user", "content": f"---Input Text---\n```\n{HELIOS}\n```\n"},
    ]
    whole = client.chat(model=QWEN, messages=messages, stream=False)
    assert whole.done and whole.message.role == "assistant" and whole.message.content == extraction_records(HELIOS)
    pieces = list(client.chat(model=QWEN, messages=messages, stream=True))
    assert len(pieces) > 3 and pieces[-1].done and not any(p.done for p in pieces[:-1])
    assert "".join(p.message.content or "" for p in pieces) == whole.message.content
    keywords = client.chat(
        model=QWEN,
        messages=[
            {
                "role": "user",
                "content": "You are an expert keyword extractor...\nUser Query: Who built the "
                "Falcon Bracket?\n\n---Output---\nOutput:",
            }
        ],
        format="json",
    )
    assert json.loads(keywords.message.content or "")["low_level_keywords"] == ["Falcon Bracket"]
    with pytest.raises(ollama.ResponseError) as missing:
        client.chat(model="llama3", messages=messages)
    assert missing.value.status_code == 404 and missing.value.error == "model 'llama3' not found"
    assert [m.model for m in client.list().models] == [QWEN]
    assert client._client.get("/api/version").json() == {"version": "0.6.5"}

    def overloaded(_: dict[str, Any]) -> str:
        raise FakeOllamaError(503, "server busy, please try again")

    fake.chat_reply = overloaded
    with pytest.raises(ollama.ResponseError) as busy:
        client.chat(model=QWEN, messages=messages)
    assert busy.value.status_code == 503 and "busy" in busy.value.error


@pytest.mark.asyncio
async def test_extracted_entities_and_relations_land_in_the_graph(fake: FakeOllama, tmp_path: Path) -> None:
    async with llm_cortex(tmp_path) as cortex:
        assert (await cortex.health()).llm == QWEN
        nodes, edges = await graph_of(cortex)
        triz_nodes, triz_edges = triz_part(nodes, edges)
        assert len(triz_nodes) > 80 and triz_edges > 500 and not extraction_chats(fake)  # the TRIZ graph needs no LLM

        doc = await cortex.add_document("bracket.md", HELIOS.encode())
        await cortex.wait_idle(60)
        assert (await cortex.get_document(doc.id)).status == "processed"
        chats = extraction_chats(fake)
        assert chats and all(c["model"] == QWEN for c in chats)
        assert "Helios Aerospace builds the Falcon Bracket" in chats[0]["messages"][-1]["content"]

        nodes, edges = await graph_of(cortex)
        assert set(nodes) >= HELIOS_ENTITIES
        assert {nodes[name]["file_path"] for name in HELIOS_ENTITIES} == {doc.id}
        assert nodes["Helios Aerospace"]["entity_type"] == "organization"
        pairs = {frozenset((e["source"], e["target"])) for e in edges}
        assert frozenset(("Helios Aerospace", "Falcon Bracket")) in pairs
        assert frozenset(("Falcon Bracket", "Titanium Lattice")) in pairs
        assert triz_part(nodes, edges) == (triz_nodes, triz_edges)  # the TRIZ graph is untouched

        for mode in ("local", "hybrid"):
            result = await cortex.query(
                QueryRequest(query="Who builds the Falcon Bracket of Helios Aerospace?", mode=mode)
            )
            # Entity and relation sources carry their names as titles (a chunk's title is the file name).
            titles = {s.title for s in result.sources if s.document == "bracket.md"}
            assert titles & HELIOS_ENTITIES, (mode, [(s.id, s.title) for s in result.sources])
        triz = await cortex.query(QueryRequest(query="make the part lighter without losing strength", mode="hybrid"))
        assert triz.sources[0].id == "triz:matrix:1-14"


@pytest.mark.asyncio
async def test_llm_down_fails_the_document_and_a_retry_processes_it(fake: FakeOllama, tmp_path: Path) -> None:
    async with llm_cortex(tmp_path) as cortex:
        failed = doc = await upload_while_ollama_is_down(cortex, fake)
        assert failed.error
        assert fake.url in failed.error and "OLLAMA_HOST" in failed.error and QWEN in failed.error
        assert "ollama serve" in failed.error
        nodes, _ = await graph_of(cortex)
        assert not ORION_ENTITIES & set(nodes)

        fake.start()
        await cortex.delete_document(doc.id)
        again = await cortex.add_document("rack.md", ORION.encode())
        await cortex.wait_idle(60)
        assert again.id == doc.id and (await cortex.get_document(doc.id)).status == "processed"
        nodes, _ = await graph_of(cortex)
        assert set(nodes) >= ORION_ENTITIES


@pytest.mark.asyncio
async def test_uploading_a_failed_document_again_retries_it(fake: FakeOllama, tmp_path: Path) -> None:
    async with llm_cortex(tmp_path) as cortex:
        doc = await upload_while_ollama_is_down(cortex, fake)
        fake.start()
        await cortex.add_document("rack.md", ORION.encode())
        await cortex.wait_idle(60)
        assert (await cortex.get_document(doc.id)).status == "processed"


@pytest.mark.asyncio
async def test_a_failed_document_is_not_retrieved(fake: FakeOllama, tmp_path: Path) -> None:
    async with llm_cortex(tmp_path) as cortex:
        await upload_while_ollama_is_down(cortex, fake)
        naive = await cortex.query(QueryRequest(query="Glycol Loop of the Vega Rack", mode="naive"))
        assert "rack.md" not in [s.document for s in naive.sources]


@pytest.mark.asyncio
async def test_a_chat_model_not_pulled_names_ollama_pull(fake: FakeOllama, tmp_path: Path) -> None:
    async with llm_cortex(tmp_path, "qwen2.5:32b") as cortex:
        doc = await cortex.add_document("bracket.md", HELIOS.encode())
        await cortex.wait_idle(60)
        failed = await cortex.get_document(doc.id)
        assert failed.status == "failed" and failed.error
        assert "ollama pull qwen2.5:32b" in failed.error and "model 'qwen2.5:32b' not found" in failed.error


@pytest.mark.asyncio
async def test_embeddings_and_extraction_both_from_ollama(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The production setting: CORTEX_EMBEDDER=ollama:nomic-embed-text and CORTEX_LLM_MODEL on one Ollama."""
    with FakeOllama(embed_models={"nomic-embed-text": 768}, chat_models=[QWEN], chat_reply=lightrag_reply) as server:
        monkeypatch.setenv("OLLAMA_HOST", server.url)
        settings = CortexSettings(data_dir=tmp_path / "store", embedder="ollama:nomic-embed-text", llm_model=QWEN)  # type: ignore[call-arg]
        async with Cortex(settings, cache_dir=tmp_path / "cache") as cortex:
            health = await cortex.health()
            assert (health.embedder, health.dim, health.llm) == ("ollama:nomic-embed-text", 768, QWEN)
            doc = await cortex.add_document("bracket.md", HELIOS.encode())
            await cortex.wait_idle(60)
            assert (await cortex.get_document(doc.id)).status == "processed" and extraction_chats(server)
            # The extracted entities were embedded by Ollama too (LightRAG embeds "name\ndescription").
            embedded = [t for body in server.embeds for t in body["input"]]
            assert any(t.startswith("Helios Aerospace\n") for t in embedded)
            result = await cortex.query(QueryRequest(query="Helios Aerospace and the Falcon Bracket", mode="local"))
            titles = {s.title for s in result.sources if s.document == "bracket.md"}
            assert titles & HELIOS_ENTITIES, [(s.id, s.title) for s in result.sources]


@pytest.mark.asyncio
async def test_with_extraction_the_graph_modes_reach_documents_within_their_scope(
    fake: FakeOllama, tmp_path: Path
) -> None:
    from cortex.scope import modes_reaching_documents

    async with llm_cortex(tmp_path) as cortex:
        health = await cortex.health()
        assert health.graph_documents and modes_reaching_documents(health) == {
            "naive",
            "local",
            "global",
            "hybrid",
            "mix",
        }
        await cortex.add_document("bracket.md", HELIOS.encode(), collection="aero")
        await cortex.add_document("rack.md", ORION.encode(), collection="dc")
        await cortex.wait_idle(60)
        question = "Who cools the Vega Rack with the Glycol Loop of Orion Labs?"
        for mode in ("local", "hybrid", "mix"):
            mine = await cortex.query(QueryRequest(query=question, mode=mode, collections=["dc"]))
            assert {s.title for s in mine.sources if s.document == "rack.md"} & ORION_ENTITIES, mode
            assert not mine.warnings
            other = await cortex.query(QueryRequest(query=question, mode=mode, collections=["aero"]))
            assert not any(s.document == "rack.md" for s in other.sources), (mode, other.sources)
            assert not {s.title for s in other.sources} & ORION_ENTITIES and "Glycol" not in other.context, mode
