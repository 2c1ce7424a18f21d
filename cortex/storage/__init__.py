"""CORTEX's own LightRAG storages, registered with LightRAG so settings can name them; the choice of storages."""

from __future__ import annotations

from cortex.lightrag_compat import register_storage
from cortex.storage.postgres import PgTarget
from cortex.storage.selection import GraphChoice, StoragePlan, plan_storage

_REGISTERED = {
    "CortexVectorStorage": ("VECTOR_STORAGE", "cortex.storage.vectors"),
    "CortexKVStorage": ("KV_STORAGE", "cortex.storage.coalesced"),
    "CortexDocStatusStorage": ("DOC_STATUS_STORAGE", "cortex.storage.coalesced"),
    "CortexGraphStorage": ("GRAPH_STORAGE", "cortex.storage.coalesced"),
}


def register_storages() -> None:
    """Make LightRAG accept our class names in kv_storage / vector_storage / doc_status_storage."""
    for name, (kind, module) in _REGISTERED.items():
        register_storage(name, kind, module)


async def flush_now(storages: list[object]) -> None:
    """Write the coalesced storages' pending changes at once (after the TRIZ graph build, a delete)."""
    for storage in storages:
        flush = getattr(storage, "flush_now", None)
        if flush is not None:
            await flush()


__all__ = ["GraphChoice", "PgTarget", "StoragePlan", "flush_now", "plan_storage", "register_storages"]
