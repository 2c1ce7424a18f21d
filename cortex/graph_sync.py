"""The TRIZ knowledge graph in a store: built once, rebuilt when the knowledge base's version changes."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from cortex.embedding import VectorMemo
from cortex.knowledge_graph import TRIZ_PREFIX, TrizGraph, build_triz_graph, graph_version
from cortex.lightrag_compat import json_rows
from cortex.registry import Manifest
from synapse.triz import TrizKnowledge

log = logging.getLogger("cortex.service")  # the name these records had before the module was split off


async def ensure_triz_graph(
    rag: Any, kb: TrizKnowledge, memo: VectorMemo, manifest: Manifest, save: Callable[[Manifest], Awaitable[None]]
) -> bool:
    """Insert the graph unless the store has this version (the old version's leftovers go); True if built.

    The graph's vectors come from (and go to) the memo's cache, so a new store is built in seconds.
    """
    version = graph_version(kb)
    if manifest.knowledge_version == version:
        return False
    t0 = time.perf_counter()
    graph = build_triz_graph(kb)
    if manifest.knowledge_version:
        await _drop_stale_triz(rag, graph)
    label = f"triz-{version}"
    memo.load(label)
    memo.recording = True
    try:
        await rag.ainsert_custom_kg(graph.custom_kg())
        await _flush(rag)
        memo.save(label)
    finally:
        memo.clear()
    manifest.knowledge_version = version
    await save(manifest)
    log.info("TRIZ graph %s built in %.1f s", version, time.perf_counter() - t0)
    return True


async def _flush(rag: Any) -> None:
    """Make coalesced storages write now (the graph build should not wait for the timer)."""
    from cortex.storage import flush_now

    await flush_now(
        [
            rag.full_docs,
            rag.text_chunks,
            rag.doc_status,
            rag.chunk_entity_relation_graph,
            rag.full_entities,
            rag.full_relations,
            rag.entity_chunks,
            rag.relation_chunks,
        ]
    )


async def _drop_stale_triz(rag: Any, graph: TrizGraph) -> None:
    """Remove TRIZ entities and chunks that the new graph no longer has (the rest is overwritten)."""
    from lightrag.utils import compute_mdhash_id  # type: ignore[import-untyped]

    new_names = {e["entity_name"] for e in graph.entities}
    labels = await rag.get_graph_labels()
    for name in labels:
        node = await rag.chunk_entity_relation_graph.get_node(name)
        if node and str(node.get("file_path", "")).startswith(TRIZ_PREFIX) and name not in new_names:
            await rag.adelete_by_entity(name)
    keep = {compute_mdhash_id(c["content"], prefix="chunk-") for c in graph.chunks}
    stale = []
    for chunk_id, chunk in (await _all_chunks(rag)).items():
        if str(chunk.get("file_path", "")).startswith(TRIZ_PREFIX) and chunk_id not in keep:
            stale.append(chunk_id)
    if stale:
        await rag.chunks_vdb.delete(stale)
        await rag.text_chunks.delete(stale)


async def _all_chunks(rag: Any) -> dict[str, dict[str, Any]]:
    storage = rag.text_chunks
    data = json_rows(storage)
    if isinstance(data, dict):
        return dict(data)
    if type(storage).__name__ == "PGKVStorage":
        from cortex.storage.postgres import pg_chunks

        return await pg_chunks(storage)
    return {}
