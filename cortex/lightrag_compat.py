"""What CORTEX reads of LightRAG beyond its public methods, in one place.

LightRAG has no call that lists the rows of a key-value or vector store, nor one that cancels a running
pipeline from outside its own server. These helpers reach into the storages and the shared pipeline state
of lightrag-hku 1.5.x; `tests/cortex/test_lightrag_compat.py` fails with a clear message when an upgrade
changes what they rely on.
"""

from __future__ import annotations

from typing import Any

#: The LightRAG storages a document leaves rows in, and that are flushed together.
STORAGE_ATTRS = (
    "full_docs",
    "text_chunks",
    "full_entities",
    "full_relations",
    "entity_chunks",
    "relation_chunks",
    "llm_response_cache",
    "entities_vdb",
    "relationships_vdb",
    "chunks_vdb",
    "chunk_entity_relation_graph",
    "doc_status",
)


def storages(rag: Any) -> list[Any]:
    """Every storage of a LightRAG instance, the document status last (it says what the others hold)."""
    return [s for s in (getattr(rag, name, None) for name in STORAGE_ATTRS) if s is not None]


async def rows_for(storage: Any, ids: list[str]) -> list[dict[str, Any] | None]:
    """`storage.get_by_ids(ids)` aligned with `ids`, None where absent.

    LightRAG's PostgreSQL storages answer an empty list, not a list of None, when none of the ids exist.
    """
    if not ids:
        return []
    rows = list(await storage.get_by_ids(ids))
    if len(rows) == len(ids):
        return rows
    if not rows:
        return [None] * len(ids)
    return [await storage.get_by_id(i) for i in ids]


def _owner(row: dict[str, Any]) -> str:
    return str(row.get("full_doc_id") or row.get("file_path") or "")


async def chunk_owners(storage: Any) -> dict[str, str] | None:
    """Chunk id -> document id of every row of the text-chunk store (JSON KV, CORTEX's or PG); None: unknown kind."""
    data = getattr(storage, "_data", None)
    if isinstance(data, dict):
        async with storage._storage_lock:
            return {key: _owner(row) for key, row in data.items() if isinstance(row, dict)}
    if type(storage).__name__ == "PGKVStorage":
        rows = await storage.db.query(
            "SELECT id, full_doc_id, file_path FROM LIGHTRAG_DOC_CHUNKS WHERE workspace = $1",
            [storage.workspace],
            multirows=True,
        )
        return {str(r["id"]): _owner(r) for r in rows or []}
    return None


async def vector_owners(storage: Any) -> dict[str, str] | None:
    """Vector id -> document id of every row of the chunk vector store (CORTEX's or pgvector); None: unknown kind."""
    meta = getattr(storage, "_meta", None)
    if isinstance(meta, dict):
        return {key: _owner(row) for key, row in meta.items()}
    if type(storage).__name__ == "PGVectorStorage":
        rows = await storage.db.query(
            f"SELECT id, full_doc_id, file_path FROM {storage.table_name} WHERE workspace = $1",
            [storage.workspace],
            multirows=True,
        )
        return {str(r["id"]): _owner(r) for r in rows or []}
    return None


async def _pipeline_status(rag: Any) -> tuple[Any, Any]:
    from lightrag.kg.shared_storage import get_namespace_data, get_namespace_lock  # type: ignore[import-untyped]

    status = await get_namespace_data("pipeline_status", workspace=rag.workspace)
    return status, get_namespace_lock("pipeline_status", workspace=rag.workspace)


async def pipeline_busy(rag: Any) -> bool:
    status, lock = await _pipeline_status(rag)
    async with lock:
        return bool(status.get("busy", False))


async def request_cancel(rag: Any) -> bool:
    """Ask a running pipeline to stop (its documents end FAILED, "User cancelled"); False when none runs."""
    status, lock = await _pipeline_status(rag)
    async with lock:
        if not status.get("busy", False):
            return False
        status["cancellation_requested"] = True
        return True


def is_cancellation(error: str | None) -> bool:
    """Whether a document's error is LightRAG's mark of a cancelled pipeline rather than a real failure."""
    text = (error or "").lower()
    return text.startswith(("user cancelled", "cancelled by"))
