"""The copying half of a migration: every namespace of a file store into LightRAG's PostgreSQL storages.

Vectors go in through LightRAG's own PGVectorStorage, whose embedding function here looks each text's
stored vector up (StoredVectors) instead of computing one.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cortex.errors import CortexError
from cortex.lightrag_compat import json_rows, vector_ids
from cortex.registry import Manifest
from cortex.storage.postgres import PgTarget, workspace_rows
from synapse.config import CortexSettings

#: step, done, total
Progress = Callable[[str, int, int], None]

KV_NAMESPACES = (
    "full_docs",
    "text_chunks",
    "full_entities",
    "full_relations",
    "entity_chunks",
    "relation_chunks",
    "llm_response_cache",
)
VECTOR_NAMESPACES = ("chunks_vdb", "entities_vdb", "relationships_vdb")
# LightRAG's PostgreSQL table of each namespace (vector tables carry the embedder's suffix).
_TABLES = {
    "full_docs": "lightrag_doc_full",
    "text_chunks": "lightrag_doc_chunks",
    "full_entities": "lightrag_full_entities",
    "full_relations": "lightrag_full_relations",
    "entity_chunks": "lightrag_entity_chunks",
    "relation_chunks": "lightrag_relation_chunks",
    "llm_response_cache": "lightrag_llm_cache",
    "doc_status": "lightrag_doc_status",
    "chunks_vdb": "lightrag_vdb_chunks",
    "entities_vdb": "lightrag_vdb_entity",
    "relationships_vdb": "lightrag_vdb_relation",
}


class StoredVectors:
    """LightRAG embedding function that answers each text with the vector the file store holds for it."""

    def __init__(self) -> None:
        self.by_text: dict[str, np.ndarray[Any, Any]] = {}

    async def __call__(self, texts: list[str], **_: Any) -> np.ndarray[Any, Any]:
        try:
            return np.stack([self.by_text[t] for t in texts])
        except KeyError:
            raise CortexError(
                "the file store has a text without its vector (the store is inconsistent)",
                "run `synapse cortex reindex` on the file store, then migrate again",
            ) from None


def _batches(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _vector_ids(storage: Any) -> list[str]:
    ids = vector_ids(storage)
    if ids is None:
        raise CortexError(
            f"migration reads CORTEX's own vector storage; this store uses {type(storage).__name__}",
            "reindex it with CORTEX_VECTOR_STORAGE=CortexVectorStorage first",
        )
    return ids


def _kv_data(storage: Any) -> dict[str, dict[str, Any]]:
    data = json_rows(storage)
    if data is None:
        raise CortexError(
            f"migration reads LightRAG's JSON storages; this store uses {type(storage).__name__}",
            "migrate from a store with the default file storages",
        )
    return {str(k): dict(v) for k, v in dict(data).items()}


async def open_target(settings: CortexSettings, workspace: str, manifest: Manifest, embed: StoredVectors) -> Any:
    from lightrag import LightRAG  # type: ignore[import-untyped]
    from lightrag.utils import EmbeddingFunc  # type: ignore[import-untyped]

    from cortex.llm import lightrag_llm
    from cortex.storage import register_storages
    from cortex.tokenizer import offline_tokenizer

    register_storages()
    rag = LightRAG(
        working_dir=str(Path(settings.data_dir) / "rag"),
        workspace=workspace,
        kv_storage=settings.kv_storage,
        vector_storage=settings.vector_storage,
        graph_storage=settings.graph_storage,
        doc_status_storage=settings.doc_status_storage,
        # The model name is the embedder's, as CORTEX gives it, so the vector tables get the same names.
        embedding_func=EmbeddingFunc(embedding_dim=manifest.dim, func=embed, model_name=manifest.embedder),
        tokenizer=offline_tokenizer(),
        cosine_better_than_threshold=settings.cosine_threshold,
        enable_llm_cache=False,
        **lightrag_llm(settings.model_copy(update={"llm_model": ""})),
    )
    await rag.initialize_storages()
    return rag


async def copy_kv(source: Any, target: Any, batch: int, progress: Progress) -> dict[str, int]:
    counts: dict[str, int] = {}
    for name in (*KV_NAMESPACES, "doc_status"):
        data = _kv_data(getattr(source, name))
        keys = list(data)
        counts[name] = len(keys)
        done = 0
        for part in _batches(keys, batch):
            await getattr(target, name).upsert({k: data[k] for k in part})
            done += len(part)
            progress(name, done, len(keys))
        await getattr(target, name).index_done_callback()
        progress(name, len(keys), len(keys))
    return counts


async def copy_vectors(
    source: Any, target: Any, embed: StoredVectors, batch: int, progress: Progress
) -> dict[str, int]:
    chunks = _kv_data(source.text_chunks)
    counts: dict[str, int] = {}
    for name in VECTOR_NAMESPACES:
        src, dst = getattr(source, name), getattr(target, name)
        ids = _vector_ids(src)
        counts[name] = len(ids)
        done = 0
        for part in _batches(ids, batch):
            vectors = await src.get_vectors_by_ids(list(part))
            rows = await src.get_by_ids(list(part))
            payload: dict[str, dict[str, Any]] = {}
            embed.by_text.clear()
            for doc_id, row in zip(part, rows, strict=True):
                if row is None or doc_id not in vectors:
                    continue
                item = {k: v for k, v in row.items() if k not in ("id", "created_at", "distance")}
                if name == "chunks_vdb":  # PostgreSQL keeps these beside the vector; the file store in the chunk
                    chunk = chunks.get(doc_id, {})
                    item.setdefault("tokens", int(chunk.get("tokens", 0)))
                    item.setdefault("chunk_order_index", int(chunk.get("chunk_order_index", 0)))
                    item.setdefault("full_doc_id", chunk.get("full_doc_id", ""))
                    item.setdefault("file_path", chunk.get("file_path", ""))
                embed.by_text[str(item.get("content", ""))] = np.asarray(vectors[doc_id], dtype=np.float32)
                payload[doc_id] = item
            await dst.upsert(payload)
            await dst.index_done_callback()  # PGVectorStorage writes (and "embeds") its buffer here
            done += len(part)
            progress(name, done, len(ids))
        progress(name, len(ids), len(ids))
    return counts


async def copy_graph(source: Any, target: Any, batch: int, progress: Progress) -> dict[str, int]:
    src, dst = source.chunk_entity_relation_graph, target.chunk_entity_relation_graph
    nodes = await src.get_all_nodes()
    edges = await src.get_all_edges()
    total = len(nodes) + len(edges)
    done = 0
    for part in _batches(nodes, batch):
        await dst.upsert_nodes_batch([(str(n["id"]), {k: v for k, v in n.items() if k != "id"}) for n in part])
        done += len(part)
        progress("graph", done, total)
    for part in _batches(edges, batch):
        await dst.upsert_edges_batch(
            [
                (str(e["source"]), str(e["target"]), {k: v for k, v in e.items() if k not in ("source", "target")})
                for e in part
            ]
        )
        done += len(part)
        progress("graph", done, total)
    await dst.index_done_callback()
    progress("graph", total, total)
    return {"graph_nodes": len(nodes), "graph_edges": len(edges)}


async def target_counts(target_db: PgTarget, workspace: str, rag: Any) -> dict[str, int]:
    rows = await workspace_rows(target_db, workspace)
    counts: dict[str, int] = {}
    for name, table in _TABLES.items():
        if name in VECTOR_NAMESPACES:
            table = str(getattr(rag, name).table_name).lower()
        counts[name] = rows.get(table, 0)
    graph = rag.chunk_entity_relation_graph
    counts["graph_nodes"] = len(await graph.get_all_nodes())
    counts["graph_edges"] = len(await graph.get_all_edges())
    return counts


async def compare_vectors(source: Any, target: Any, sample: int, seed: int = 7) -> tuple[int, float]:
    compared, worst = 0, 0.0
    rng = random.Random(seed)
    for name in VECTOR_NAMESPACES:
        ids = _vector_ids(getattr(source, name))
        picked = rng.sample(ids, min(sample, len(ids)))
        if not picked:
            continue
        before = await getattr(source, name).get_vectors_by_ids(picked)
        after = await getattr(target, name).get_vectors_by_ids(picked)
        for doc_id in picked:
            if doc_id not in after:
                return compared, float("inf")
            a = np.asarray(before[doc_id], dtype=np.float64)
            b = np.asarray(after[doc_id], dtype=np.float64)
            worst = max(worst, float(np.max(np.abs(a - b))))
            compared += 1
    return compared, worst
