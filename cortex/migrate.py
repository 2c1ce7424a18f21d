"""Copy a file-based CORTEX store into PostgreSQL without re-embedding, then check what arrived.

Everything LightRAG keeps is copied: documents, chunks, document status, the entity/relation key-value
stores, the graph, and the three vector stores with the vectors they hold. Vectors go in through
LightRAG's own PGVectorStorage, whose embedding function here looks each text's stored vector up
instead of computing one. Afterwards every namespace's rows are counted on both sides and a sample of
vectors is compared; only then is the store's manifest written, so a migration that fails half-way
leaves no store behind (its rows are removed). The document list stays in the data directory, which
the PostgreSQL store keeps using.
"""

from __future__ import annotations

import contextlib
import random
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, SecretStr

from cortex.errors import CortexError, EmbedderMismatchError
from cortex.registry import Manifest, Registry
from cortex.storage.postgres import (
    PgTarget,
    connect,
    delete_manifest,
    load_manifest,
    save_manifest,
    workspace_rows,
)
from cortex.storage.selection import plan_storage
from synapse.config import CortexSettings
from synapse.embeddings import Embedder, Vectors

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


class NamespaceCount(BaseModel):
    """Rows of one namespace in the file store and in PostgreSQL."""

    namespace: str
    source: int
    target: int

    @property
    def ok(self) -> bool:
        return self.source == self.target


class MigrationReport(BaseModel):
    """What a migration copied and what the check found."""

    data_dir: str
    target: str
    store: str
    workspace: str
    embedder: str
    documents: int
    counts: list[NamespaceCount]
    vectors_compared: int
    max_vector_error: float
    graph_storage: str
    seconds: float


class _NeverEmbeds(Embedder):
    """Stands in for the store's embedder: a migration reads stored vectors and computes none."""

    def __init__(self, name: str, dim: int) -> None:
        self.name, self.dim = name, dim

    def _encode(self, texts: list[str]) -> Vectors:
        raise CortexError("a migration never embeds", "this is a bug; please report it")


class _StoredVectors:
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


def _no_progress(step: str, done: int, total: int) -> None:
    return None


def _batches(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _vector_ids(storage: Any) -> list[str]:
    ids = getattr(storage, "_ids", None)
    if not isinstance(ids, list):
        raise CortexError(
            f"migration reads CORTEX's own vector storage; this store uses {type(storage).__name__}",
            "reindex it with CORTEX_VECTOR_STORAGE=CortexVectorStorage first",
        )
    return list(ids)


def _kv_data(storage: Any) -> dict[str, dict[str, Any]]:
    data = getattr(storage, "_data", None)
    if data is None:
        raise CortexError(
            f"migration reads LightRAG's JSON storages; this store uses {type(storage).__name__}",
            "migrate from a store with the default file storages",
        )
    return {str(k): dict(v) for k, v in dict(data).items()}


async def _check_target(target: PgTarget, store: str, manifest: Manifest, force: bool) -> Manifest | None:
    """Refuse a database that already holds this store, unless forced; returns the store to replace."""
    existing = await load_manifest(target, store)
    if existing is None or force:
        return existing
    if existing.embedder != manifest.embedder or existing.dim != manifest.dim:
        raise EmbedderMismatchError(
            f"{target.display()} already holds a CORTEX store {store!r} built with {existing.embedder} "
            f"({existing.dim}-d); this store uses {manifest.embedder} ({manifest.dim}-d)",
            "choose another store name (CORTEX_POSTGRES_WORKSPACE), or pass --force to replace it",
        )
    raise CortexError(
        f"{target.display()} already holds a CORTEX store {store!r} (workspace {existing.workspace})",
        "choose another store name (CORTEX_POSTGRES_WORKSPACE), or pass --force to replace it",
    )


async def drop_workspace(target: PgTarget, workspace: str) -> None:
    """Delete every LightRAG row of `workspace` in the database."""
    conn = await connect(target)
    try:
        for table in await workspace_rows(target, workspace):
            await conn.execute(f'DELETE FROM "{table}" WHERE workspace = $1', workspace)
    finally:
        await conn.close()


async def _open_target(settings: CortexSettings, workspace: str, manifest: Manifest, embed: _StoredVectors) -> Any:
    from lightrag import LightRAG  # type: ignore[import-untyped]
    from lightrag.utils import EmbeddingFunc  # type: ignore[import-untyped]

    from cortex.service import lightrag_llm
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


async def _copy_kv(source: Any, target: Any, batch: int, progress: Progress) -> dict[str, int]:
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


async def _copy_vectors(
    source: Any, target: Any, embed: _StoredVectors, batch: int, progress: Progress
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


async def _copy_graph(source: Any, target: Any, batch: int, progress: Progress) -> dict[str, int]:
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


async def _target_counts(target_db: PgTarget, workspace: str, rag: Any) -> dict[str, int]:
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


async def _compare_vectors(source: Any, target: Any, sample: int, seed: int = 7) -> tuple[int, float]:
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


async def migrate(
    settings: CortexSettings,
    to_url: str,
    *,
    store: str | None = None,
    force: bool = False,
    progress: Progress = _no_progress,
    batch: int = 500,
    sample: int = 64,
) -> MigrationReport:
    """Copy the file store in settings.data_dir into the PostgreSQL database at `to_url`, then check it."""
    from cortex.service import Cortex

    t0 = time.perf_counter()
    data_dir = Path(settings.data_dir)
    if not (data_dir / "cortex.sqlite3").exists():
        raise CortexError(f"there is no CORTEX store in {data_dir}", "set CORTEX_DATA_DIR to the store to migrate")
    registry = Registry(data_dir / "cortex.sqlite3")
    try:
        manifest, documents = registry.manifest(), registry.count()
    finally:
        registry.close()
    if manifest is None:
        raise CortexError(f"the CORTEX store in {data_dir} has no manifest", "start it once with CORTEX_STORAGE=file")

    store = store or settings.postgres_workspace
    target_settings = settings.model_copy(
        update={"storage": "postgres", "postgres_url": SecretStr(to_url), "postgres_workspace": store}
    )
    plan = await plan_storage(target_settings)
    assert plan.target is not None
    db = plan.target
    replaced = await _check_target(db, store, manifest, force)

    source_settings = settings.model_copy(update={"storage": "file", "graph_url": SecretStr("")})
    source = Cortex(source_settings, embedder=_NeverEmbeds(manifest.embedder, manifest.dim), build_graph=False)
    workspace = f"cortex_{uuid.uuid4().hex[:12]}"
    embed = _StoredVectors()
    target_rag: Any = None
    copied = False
    try:
        async with source:
            target_rag = await _open_target(plan.settings, workspace, manifest, embed)
            src = source.rag
            counts = await _copy_kv(src, target_rag, batch, progress)
            counts.update(await _copy_vectors(src, target_rag, embed, batch, progress))
            counts.update(await _copy_graph(src, target_rag, batch, progress))
            progress("check", 0, 1)
            found = await _target_counts(db, workspace, target_rag)
            compared, worst = await _compare_vectors(src, target_rag, sample)
            progress("check", 1, 1)
        checks = [NamespaceCount(namespace=n, source=c, target=found.get(n, 0)) for n, c in counts.items()]
        wrong = [c for c in checks if not c.ok]
        if wrong or worst > 1e-4:
            detail = ", ".join(f"{c.namespace} {c.source} -> {c.target}" for c in wrong)
            raise CortexError(
                f"the copy in {db.display()} does not match the file store ({detail or f'vector error {worst:g}'})",
                "nothing was kept; run the migration again, and report it if it fails the same way",
            )
        if replaced is not None:
            await drop_workspace(db, replaced.workspace)
            await delete_manifest(db, store)
        await save_manifest(
            db,
            store,
            Manifest(
                workspace=workspace,
                embedder=manifest.embedder,
                dim=manifest.dim,
                knowledge_version=manifest.knowledge_version,
                vector_storage=plan.settings.vector_storage,
            ),
        )
        copied = True
    finally:
        if target_rag is not None:
            if not copied:
                await _drop_all(target_rag)
            await target_rag.finalize_storages()
        if not copied:
            await drop_workspace(db, workspace)
    return MigrationReport(
        data_dir=str(data_dir),
        target=db.display(),
        store=store,
        workspace=workspace,
        embedder=manifest.embedder,
        documents=documents,
        counts=checks,
        vectors_compared=compared,
        max_vector_error=worst,
        graph_storage=plan.settings.graph_storage,
        seconds=round(time.perf_counter() - t0, 2),
    )


async def _drop_all(rag: Any) -> None:
    """Empty every target storage of a failed migration (graphs outside PostgreSQL included)."""
    for name in (*KV_NAMESPACES, "doc_status", *VECTOR_NAMESPACES, "chunk_entity_relation_graph"):
        storage = getattr(rag, name, None)
        if storage is not None:
            # Best effort: the SQL clean-up that follows removes what a failing drop leaves.
            with contextlib.suppress(Exception):
                await storage.drop()


__all__ = ["MigrationReport", "NamespaceCount", "drop_workspace", "migrate"]
