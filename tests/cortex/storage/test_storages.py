"""CORTEX's LightRAG storages: the SQLite+numpy vector store, and LightRAG's own storages as the alternative."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cortex import Cortex, QueryRequest
from cortex.embedding import VectorMemo, lightrag_embedding
from cortex.storage import register_storages
from cortex.storage.vectors import CortexVectorStorage
from tests.conftest import HashingEmbedder
from tests.cortex.conftest import EN_BRACKET, RU_COOLING, cortex_settings
from tests.cortex.storage.conftest import PairFn

LIGHTRAG_FILES = {
    "kv_storage": "JsonKVStorage",
    "vector_storage": "NanoVectorDBStorage",
    "graph_storage": "NetworkXStorage",
    "doc_status_storage": "JsonDocStatusStorage",
}


def _store(folder: Path) -> CortexVectorStorage:
    config: dict[str, Any] = {
        "working_dir": str(folder),
        "embedding_batch_num": 2,
        "vector_db_storage_cls_kwargs": {"cosine_better_than_threshold": 0.05},
    }
    return CortexVectorStorage(
        namespace="chunks",
        workspace="w1",
        global_config=config,
        embedding_func=lightrag_embedding(VectorMemo(HashingEmbedder())),
        meta_fields={"content", "file_path"},
    )


@pytest.mark.asyncio
async def test_vector_store_upsert_query_delete_persist(tmp_path: Path) -> None:
    store = _store(tmp_path)
    await store.initialize()
    rows = {
        f"c{i}": {"content": text, "file_path": f"f{i}", "ignored": "x"}
        for i, text in enumerate([EN_BRACKET, RU_COOLING, "gear housing in magnesium", "valve spring fatigue"])
    }
    await store.upsert(rows)
    hits = await store.query("magnesium gear housing", top_k=2)
    assert hits[0]["id"] == "c2" and hits[0]["file_path"] == "f2" and "ignored" not in hits[0]
    assert hits[0]["distance"] >= hits[-1]["distance"]
    await store.delete(["c2"])
    assert await store.get_by_id("c2") is None
    assert [r["id"] if r else None for r in await store.get_by_ids(["c0", "c2"])] == ["c0", None]
    await store.index_done_callback()
    await store.finalize()

    reopened = _store(tmp_path)
    await reopened.initialize()
    assert sorted((await reopened.get_vectors_by_ids(["c0", "c1", "c2", "c3"])).keys()) == ["c0", "c1", "c3"]
    again = await reopened.query("magnesium gear housing", top_k=4)
    assert "c2" not in [h["id"] for h in again]
    vec = np.asarray((await reopened.get_vectors_by_ids(["c3"]))["c3"])
    assert abs(float(np.linalg.norm(vec)) - 1.0) < 1e-5
    vec *= 0  # a caller's changes stay its own
    assert abs(float(np.linalg.norm((await reopened.get_vectors_by_ids(["c3"]))["c3"])) - 1.0) < 1e-5
    assert await reopened.get_vectors_by_ids(["gone"]) == {}
    await reopened.finalize()


def test_our_names_are_registered_with_lightrag() -> None:
    from lightrag import kg
    from lightrag.kg.factory import get_storage_class

    register_storages()
    assert "CortexVectorStorage" in kg.STORAGE_IMPLEMENTATIONS["VECTOR_STORAGE"]["implementations"]
    assert get_storage_class("CortexVectorStorage") is CortexVectorStorage


@pytest.mark.asyncio
async def test_lightrag_file_storages_remain_selectable(tmp_path: Path) -> None:
    settings = cortex_settings(tmp_path / "data", **LIGHTRAG_FILES)
    async with Cortex(settings, embedder=HashingEmbedder(), cache_dir=tmp_path / "cache") as cortex:
        doc = await cortex.add_document("bracket.md", EN_BRACKET.encode())
        await cortex.wait_idle(60)
        result = await cortex.query(QueryRequest(query="aluminium bracket lattice ribs", mode="mix"))
        assert any(s.document == "bracket.md" for s in result.sources)
        await cortex.delete_document(doc.id)
    assert list((tmp_path / "data" / "rag").glob("*/vdb_chunks.json"))


@pytest.mark.asyncio
async def test_a_store_refuses_another_vector_storage(tmp_path: Path) -> None:
    from cortex import EmbedderMismatchError

    async with Cortex(cortex_settings(tmp_path / "d"), embedder=HashingEmbedder(), cache_dir=tmp_path):
        pass
    with pytest.raises(EmbedderMismatchError, match="CortexVectorStorage"):
        await Cortex(cortex_settings(tmp_path / "d", **LIGHTRAG_FILES), embedder=HashingEmbedder()).start()


def test_deletes_and_adds_survive_a_restart(tmp_path: Path) -> None:
    settings = cortex_settings(tmp_path / "d")

    async def first() -> str:
        async with Cortex(settings, embedder=HashingEmbedder(), cache_dir=tmp_path) as cortex:
            gone = await cortex.add_document("gone.md", EN_BRACKET.encode())
            await cortex.add_document("kept.txt", RU_COOLING.encode())
            await cortex.wait_idle(60)
            await cortex.delete_document(gone.id)
            return gone.id

    async def second(gone: str) -> None:
        async with Cortex(settings, embedder=HashingEmbedder(), cache_dir=tmp_path) as cortex:
            assert [d.name for d in await cortex.list_documents()] == ["kept.txt"]
            hits = await cortex.query(QueryRequest(query="aluminium bracket lattice ribs", mode="naive"))
            assert all(s.document != "gone.md" for s in hits.sources)
            hits = await cortex.query(QueryRequest(query="насосы охлаждения серверной стойки", mode="naive"))
            assert any(s.document == "kept.txt" for s in hits.sources)
            assert gone not in {s.id.split("-chunk")[0] for s in hits.sources}

    gone_id = asyncio.run(first())
    asyncio.run(second(gone_id))


@pytest.mark.asyncio
async def test_graph_batch_reads_match_networkx(storage_pair: PairFn) -> None:
    """CortexGraphStorage's one-lock batch reads give what NetworkXStorage's per-item reads give."""
    from lightrag.kg.networkx_impl import NetworkXStorage

    from cortex.storage.coalesced import CortexGraphStorage

    ours, stock = storage_pair(CortexGraphStorage, NetworkXStorage, "g")
    edges = [("A", "B"), ("A", "C"), ("C", "D"), ("D", "D")]
    for storage in (ours, stock):
        await storage.initialize()
        for node in "ABCD":
            await storage.upsert_node(node, {"entity_id": node, "description": node.lower()})
        for src, tgt in edges:
            await storage.upsert_edge(src, tgt, {"weight": 1.0, "description": f"{src}-{tgt}"})
    nodes = ["A", "C", "D", "missing"]
    pairs = [("A", "B"), ("C", "D"), ("B", "A"), ("A", "missing")]
    assert await ours.node_degrees_batch(nodes) == {n: await stock.node_degree(n) for n in nodes}
    assert await ours.edge_degrees_batch(pairs) == {p: await stock.edge_degree(*p) for p in pairs}
    got = await ours.get_edges_batch([{"src": a, "tgt": b} for a, b in pairs])
    assert set(got) == {("A", "B"), ("C", "D"), ("B", "A")}
    assert got[("B", "A")]["description"] == (await stock.get_edge("B", "A") or {})["description"] == "A-B"
    assert await ours.get_nodes_edges_batch(["A"]) == {"A": await stock.get_node_edges("A")}
    await ours.finalize()
    await stock.finalize()
