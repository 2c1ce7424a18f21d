"""Removing every trace of documents from LightRAG's stores: status, full text, chunks, vectors, graph.

LightRAG's own deletion removes what the document's status row lists. A document whose processing
was cut short (a crash, a cancelled pipeline) can have chunks and vectors that no status row lists, or
no status row at all; those are found by the document id each chunk row carries.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

from cortex.errors import CortexError
from cortex.lightrag_compat import chunk_owners, rows_for, vector_owners

log = logging.getLogger(__name__)


class PipelineBusyError(CortexError):
    """LightRAG refuses deletions while its pipeline runs; try again when it is idle."""

    status = 409


async def purge_documents(rag: Any, doc_ids: Collection[str]) -> None:
    """Remove `doc_ids` from every store (in memory; durable at the next flush). Idempotent."""
    if not doc_ids:
        return
    ids = list(doc_ids)
    rows = await rows_for(rag.doc_status, ids)
    for doc_id, row in zip(ids, rows, strict=True):
        if row:
            await _lightrag_delete(rag, doc_id)
    await purge_leftovers(rag, set(doc_ids))


async def _lightrag_delete(rag: Any, doc_id: str) -> None:
    result = await rag.adelete_by_doc_id(doc_id)
    if result.status == "not_allowed":
        raise PipelineBusyError(f"document {doc_id} cannot be removed while LightRAG's pipeline runs", "retry later")
    if result.status not in ("success", "not_found"):
        raise CortexError(f"document {doc_id} could not be removed: {result.message}", "see the CORTEX log")


async def purge_leftovers(rag: Any, doc_ids: set[str]) -> int:
    """Delete chunks and chunk vectors owned by `doc_ids` that no status row listed; how many rows went."""
    # Storages CORTEX cannot list (NanoVectorDB) keep such leftovers: LightRAG's own deletion is all there is.
    chunks = [c for c, owner in ((await chunk_owners(rag.text_chunks)) or {}).items() if owner in doc_ids]
    vectors = [v for v, owner in ((await vector_owners(rag.chunks_vdb)) or {}).items() if owner in doc_ids]
    if chunks:
        await rag.text_chunks.delete(chunks)
    if vectors:
        await rag.chunks_vdb.delete(vectors)
    if chunks or vectors:
        log.info("removed %d chunks and %d vectors left by %d documents", len(chunks), len(vectors), len(doc_ids))
    return len(chunks) + len(vectors)
