"""CORTEX's LightRAG instance: LightRAG with its configuration snapshot taken once, opened with CORTEX's settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lightrag import LightRAG  # type: ignore[import-untyped]

from cortex.embedding import VectorMemo, lightrag_embedding
from cortex.lightrag_compat import snapshot_global_config
from cortex.llm import lightrag_llm
from cortex.scope import install as install_scope
from cortex.tokenizer import offline_tokenizer
from synapse.config import CortexSettings


@snapshot_global_config
class CortexRAG(LightRAG):  # type: ignore[misc]
    """LightRAG whose configuration mapping is computed once and rebuilt after any attribute changes.

    LightRAG builds the mapping every operation reads its settings from with `dataclasses.asdict` of the
    whole instance, about 150 fields deep-copied, on every query: 0.7 ms of a 6.5 ms naive query. Its
    operations only read that mapping, so each call now gets a fresh top-level copy of one snapshot.
    """


async def open_rag(settings: CortexSettings, data_dir: Path, workspace: str, memo: VectorMemo) -> Any:
    """A CortexRAG on the store's workspace, its storages initialised (on the running event loop)."""
    from cortex.storage import register_storages
    from cortex.tokenizer_executor import install_tokenizer_executor

    register_storages()
    install_tokenizer_executor()
    s = settings
    rag = CortexRAG(
        working_dir=str(data_dir / "rag"),
        workspace=workspace,
        kv_storage=s.kv_storage,
        vector_storage=s.vector_storage,
        graph_storage=s.graph_storage,
        doc_status_storage=s.doc_status_storage,
        embedding_func=lightrag_embedding(memo),
        tokenizer=offline_tokenizer(),
        chunk_token_size=s.chunk_tokens,
        chunk_overlap_token_size=min(100, s.chunk_tokens // 6),
        cosine_better_than_threshold=s.cosine_threshold,
        enable_llm_cache=bool(s.llm_model),
        # Without an LLM a document is only chunked and embedded: many in flight let the embedding
        # batcher fill its batches (LightRAG's defaults: 3 documents, 10 texts a call).
        max_parallel_insert=s.parallel_documents if not s.llm_model else 3,
        embedding_batch_num=64,
        # Every document's texts must reach VectorMemo's batcher at once for it to batch them; it
        # runs one embedder call at a time itself. (At 2 calls in flight, a 2,000-document ingest
        # embedded 2 texts a call.) LightRAG kills a call after twice its timeout, and a call waits
        # in the batcher too: a busy 2-core machine hit the default 60 s while the TRIZ graph was
        # embedded. A local model cannot hang like a network call can.
        embedding_func_max_async=max(64, 2 * s.parallel_documents),
        default_embedding_timeout=600,
        **lightrag_llm(s),
    )
    await rag.initialize_storages()
    install_scope(rag)  # collections: a scoped query's chunk search sees only its documents
    return rag
