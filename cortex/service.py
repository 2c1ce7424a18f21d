"""Cortex: the in-process CORTEX service over LightRAG (TRIZ graph, user documents, retrieval)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from cortex.backend import CortexBackend
from cortex.documents import ParsedDocument, parse_upload
from cortex.embedding import VectorMemo, lightrag_embedding, resolve_embedder
from cortex.errors import (
    CortexError,
    CortexUnavailableError,
    DocumentNotFoundError,
    EmbedderMismatchError,
)
from cortex.ingest import IngestQueue
from cortex.keywords import extract_keywords
from cortex.knowledge_graph import TRIZ_PREFIX, build_triz_graph, graph_version
from cortex.models import (
    CheckReport,
    CortexHealth,
    DocumentInfo,
    DocumentKind,
    DocumentState,
    QueryRequest,
    QueryResult,
)
from cortex.registry import DocumentLabel, Manifest, Registry
from cortex.sources import DocRef, build_sources
from cortex.storage.pg_guard import DbGuard, NullGuard, guard_for
from cortex.storage.selection import StoragePlan, plan_storage
from cortex.tokenizer import offline_tokenizer
from cortex.workspace import FILE_STORE_HINT, FILE_STORE_SINGLE_PROCESS, StoreLock, claim, release, several_workers
from synapse.config import CortexSettings, OllamaSettings
from synapse.embeddings import Embedder
from synapse.embeddings.child import EmbeddingProcess
from synapse.triz import TrizKnowledge, load_knowledge
from synapse.triz.text import resolve_lang

log = logging.getLogger(__name__)

REINDEX_HINT = "run `synapse cortex reindex` to rebuild the store with the embedder now configured"


async def _no_llm(*_: Any, **__: Any) -> str:
    raise RuntimeError("CORTEX has no LLM configured (set CORTEX_LLM_MODEL to an Ollama model for graph extraction)")


def lightrag_llm(settings: CortexSettings) -> dict[str, Any]:
    """LightRAG's LLM arguments: Ollama when CORTEX_LLM_MODEL names a model, else a function that refuses.

    Ollama's failures are re-raised naming the host, the model and the fix. LightRAG keeps only the
    message (it rebuilds the exception with a chunk prefix), so the fix is part of the message: it
    becomes the failed document's error.
    """
    if not settings.llm_model:
        return {"llm_model_func": _no_llm, "llm_model_name": "none"}
    import httpx
    import ollama
    from lightrag.llm.ollama import ollama_model_complete  # type: ignore[import-untyped]

    model, host = settings.llm_model, OllamaSettings().host

    async def complete(prompt: str, system_prompt: str | None = None, **kwargs: Any) -> Any:
        try:
            return await ollama_model_complete(prompt, system_prompt=system_prompt, **kwargs)
        except ollama.ResponseError as exc:
            if exc.status_code == 404:
                raise CortexError(
                    f"Ollama at {host} has no model {model!r} (CORTEX_LLM_MODEL): {exc.error}; "
                    f"run `ollama pull {model}` or set CORTEX_LLM_MODEL to a pulled model"
                ) from exc
            raise CortexError(
                f"Ollama at {host} failed with {model!r} (CORTEX_LLM_MODEL): {exc.error}; "
                f"check that `ollama run {model}` works"
            ) from exc
        except (ConnectionError, OSError, httpx.TransportError) as exc:
            raise CortexUnavailableError(
                f"Ollama is not reachable at {host} (OLLAMA_HOST) "
                f"for CORTEX_LLM_MODEL={model} ({type(exc).__name__}); "
                "start Ollama (`ollama serve`) or set OLLAMA_HOST, or unset CORTEX_LLM_MODEL to store "
                "documents without graph extraction"
            ) from exc

    return {
        "llm_model_func": complete,
        "llm_model_name": model,
        "llm_model_kwargs": {"host": host, "options": {"num_ctx": 32768}},
    }


class Cortex(CortexBackend):
    """Retrieval over the TRIZ knowledge graph and the user's documents, in this process.

    Use `async with Cortex(settings) as cortex:` or `await cortex.start()` ... `await cortex.aclose()`,
    all on one event loop: LightRAG's storages belong to the loop that initialised them.
    """

    def __init__(
        self,
        settings: CortexSettings | None = None,
        embedder: Embedder | None = None,
        knowledge: TrizKnowledge | None = None,
        cache_dir: Path | None = None,
        build_graph: bool = True,
    ) -> None:
        self.settings = settings or CortexSettings()
        self.cache_dir = cache_dir
        self._build_graph = build_graph
        self.data_dir = Path(self.settings.data_dir)
        self._embedder = embedder
        self.kb = knowledge or load_knowledge()
        self._rag: Any = None
        self._registry: Registry | None = None
        self._manifest: Manifest | None = None
        self._queue: IngestQueue | None = None
        self._doc_text_cache: dict[str, str] = {}
        self._memo: VectorMemo | None = None
        self._store_lock: StoreLock | None = None
        self._plan: StoragePlan | None = None
        self._db_guard: DbGuard = NullGuard()  # PostgreSQL outages: fail fast, health, recovery (pg_guard.py)
        self.kg_builds = 0

    # ---- life cycle -------------------------------------------------------------------------

    async def __aenter__(self) -> Cortex:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = resolve_embedder(self.settings.embedder)
        return self._embedder

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            raise CortexUnavailableError("CORTEX is not started", "call `await cortex.start()` first")
        return self._registry

    @property
    def rag(self) -> Any:
        if self._rag is None:
            raise CortexUnavailableError("CORTEX is not started", "call `await cortex.start()` first")
        return self._rag

    def check_embedder(self, manifest: Manifest) -> None:
        """Refuse a store built with another embedder or another vector storage."""
        wanted = self.settings.vector_storage
        if manifest.vector_storage and manifest.vector_storage != wanted:
            raise EmbedderMismatchError(
                f"the CORTEX store in {self.data_dir} keeps its vectors in {manifest.vector_storage}, "
                f"but CORTEX_VECTOR_STORAGE is {wanted}",
                f"{REINDEX_HINT}, or set CORTEX_VECTOR_STORAGE={manifest.vector_storage}",
            )
        emb = self.embedder
        if manifest.embedder != emb.name or manifest.dim != emb.dim:
            raise EmbedderMismatchError(
                f"the CORTEX store in {self.data_dir} was built with embedder {manifest.embedder} "
                f"({manifest.dim}-d), but {emb.name} ({emb.dim}-d) is configured",
                f"{REINDEX_HINT}, or set CORTEX_EMBEDDER={manifest.embedder}",
            )

    async def start(self) -> None:
        """Open the store (creating it on first use), check the embedder, build the TRIZ graph if needed."""
        if self._rag is not None:
            return
        # LightRAG logs every query step at INFO; CORTEX reports what matters itself.
        logging.getLogger("lightrag").setLevel(max(logging.WARNING, logging.getLogger("lightrag").level))
        if self.settings.storage == "file" and several_workers():
            raise CortexError(FILE_STORE_SINGLE_PROCESS, FILE_STORE_HINT)
        # The storage classes (and, for PostgreSQL, a reachable server with pgvector) before anything opens.
        self._plan = await plan_storage(self.settings)
        self.settings = self._plan.settings
        self.data_dir.mkdir(parents=True, exist_ok=True)
        lock = StoreLock(self.data_dir)
        if self._store_lock is None:
            lock.acquire()
            self._store_lock = lock
        try:
            registry = Registry(self.data_dir / "cortex.sqlite3")
        except BaseException:
            self._release_lock()
            raise
        try:
            emb = await asyncio.to_thread(lambda: self.embedder)
            manifest = await self._load_manifest(registry, emb)
            self.check_embedder(manifest)
            claim(manifest.workspace, str(self.data_dir))
        except BaseException:
            registry.close()
            self._release_lock()
            raise
        self._registry, self._manifest = registry, manifest
        try:
            self._rag = await self._open_rag(manifest.workspace)
            # db guard: watches the database from now on, wakes the document worker when it is back
            self._db_guard = guard_for(self._plan.target if self._plan else None)
            self._db_guard.on_up(lambda: self._queue.wake() if self._queue is not None else None)
            self._db_guard.start()
            if self._build_graph:
                await self._ensure_triz_graph()
        except BaseException:
            await self.aclose()
            raise
        if not self._build_graph:
            return  # opened to be read (reindex): no graph build, no document processing
        queue = IngestQueue(
            self._rag,
            registry,
            process_options=None if self.settings.llm_model else "!",
            forget=lambda doc_id: self._doc_text_cache.pop(doc_id, None),
            guard=self._db_guard,
        )
        try:
            # Workers of a multi-process server leave recovery to the master's helper, which opened the
            # store before them: a worker starting later must not redo what another one is processing.
            await queue.start(recover=not several_workers())
        except BaseException:
            await self.aclose()
            raise
        self._queue = queue

    async def _load_manifest(self, registry: Registry, emb: Embedder) -> Manifest:
        """The store's manifest, created on first use: in the database for a PostgreSQL store (every process
        and machine opening it must agree on the embedder and workspace), else in the data directory."""
        target = self._plan.target if self._plan else None
        if target is None:
            manifest = registry.manifest()
            return manifest or registry.create_manifest(emb.name, emb.dim, self.settings.vector_storage)
        from cortex.storage.postgres import create_manifest_once, load_manifest

        store = self.settings.postgres_workspace
        manifest = await load_manifest(target, store)
        if manifest is None and registry.count():
            # A file store lives in this data directory: a new, empty database store would hide its documents.
            raise CortexError(
                f"{self.data_dir} holds a file store with {registry.count()} documents, and {target.display()} "
                f"has no CORTEX store {store!r} yet",
                f"copy it over first: synapse cortex migrate --to {target.display()} (add the password), "
                "or use another CORTEX_DATA_DIR for a new store",
            )
        return manifest or await create_manifest_once(target, store, emb.name, emb.dim, self.settings.vector_storage)

    async def _save_manifest(self, manifest: Manifest) -> None:
        target = self._plan.target if self._plan else None
        if target is None:
            self.registry.save_manifest(manifest)
            return
        from cortex.storage.postgres import save_manifest

        await save_manifest(target, self.settings.postgres_workspace, manifest)

    async def _open_rag(self, workspace: str) -> Any:
        from cortex.rag import CortexRAG
        from cortex.storage import register_storages
        from cortex.tokenizer_executor import install_tokenizer_executor

        register_storages()
        install_tokenizer_executor()
        s = self.settings
        emb = self.embedder
        process = EmbeddingProcess(emb.name) if s.embed_process and EmbeddingProcess.supports(emb) else None
        self._memo = VectorMemo(emb, self.cache_dir, process=process)
        rag = CortexRAG(
            working_dir=str(self.data_dir / "rag"),
            workspace=workspace,
            kv_storage=s.kv_storage,
            vector_storage=s.vector_storage,
            graph_storage=s.graph_storage,
            doc_status_storage=s.doc_status_storage,
            embedding_func=lightrag_embedding(self._memo),
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
        return rag

    async def aclose(self) -> None:
        """Stop background work, flush LightRAG's stores and release the workspace."""
        if self._queue is not None:
            await self._queue.close()
            self._queue = None
        if self._rag is not None:
            try:
                await self._db_guard.finalize(self._rag)  # db guard: bounded for PostgreSQL, plain for files
            finally:
                self._rag = None
        await self._db_guard.aclose()  # db guard
        self._db_guard = NullGuard()
        if self._memo is not None:
            self._memo.close()
        if self._manifest is not None:
            release(self._manifest.workspace)
            self._manifest = None
        if self._registry is not None:
            self._registry.close()
            self._registry = None
        self._release_lock()

    def _release_lock(self) -> None:
        if self._store_lock is not None:
            self._store_lock.release()
            self._store_lock = None

    # ---- TRIZ graph -------------------------------------------------------------------------

    async def _ensure_triz_graph(self) -> None:
        manifest = self._manifest
        assert manifest is not None
        version = graph_version(self.kb)
        if manifest.knowledge_version == version:
            return
        t0 = time.perf_counter()
        graph = build_triz_graph(self.kb)
        if manifest.knowledge_version:
            await self._drop_stale_triz(graph)
        memo = self._memo
        assert memo is not None
        label = f"triz-{version}"
        memo.load(label)
        memo.recording = True
        try:
            await self.rag.ainsert_custom_kg(graph.custom_kg())
            await self._flush()
            memo.save(label)
        finally:
            memo.clear()
        manifest.knowledge_version = version
        await self._save_manifest(manifest)
        self.kg_builds += 1
        log.info("TRIZ graph %s built in %.1f s", version, time.perf_counter() - t0)

    async def _flush(self) -> None:
        """Make coalesced storages write now (a deletion or the graph build should not wait for the timer)."""
        from cortex.storage import flush_now

        rag = self.rag
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

    async def _drop_stale_triz(self, graph: Any) -> None:
        """Remove TRIZ entities and chunks that the new graph no longer has (the rest is overwritten)."""
        from lightrag.utils import compute_mdhash_id  # type: ignore[import-untyped]

        new_names = {e["entity_name"] for e in graph.entities}
        labels = await self.rag.get_graph_labels()
        for name in labels:
            node = await self.rag.chunk_entity_relation_graph.get_node(name)
            if node and str(node.get("file_path", "")).startswith(TRIZ_PREFIX) and name not in new_names:
                await self.rag.adelete_by_entity(name)
        keep = {compute_mdhash_id(c["content"], prefix="chunk-") for c in graph.chunks}
        stale = []
        for chunk_id, chunk in (await self._all_chunks()).items():
            if str(chunk.get("file_path", "")).startswith(TRIZ_PREFIX) and chunk_id not in keep:
                stale.append(chunk_id)
        if stale:
            await self.rag.chunks_vdb.delete(stale)
            await self.rag.text_chunks.delete(stale)

    async def _all_chunks(self) -> dict[str, dict[str, Any]]:
        storage = self.rag.text_chunks
        data = getattr(storage, "_data", None)
        if isinstance(data, dict):
            return dict(data)
        if type(storage).__name__ == "PGKVStorage":
            from cortex.storage.postgres import pg_chunks

            return await pg_chunks(storage)
        return {}

    # ---- documents --------------------------------------------------------------------------

    def _limits(self) -> tuple[int, int]:
        """parse_upload's bounds: bytes of the file, characters of its text."""
        return int(self.settings.max_upload_mb * 2**20), self.settings.max_text_chars

    async def add_document(
        self,
        name: str,
        data: bytes,
        *,
        kind: DocumentKind = "document",
        tags: Sequence[str] = (),
    ) -> DocumentInfo:
        """Store a file; returns at once with status pending, processing continues in the background."""
        await self._db_guard.check()  # db guard: 503 at once while the database is down
        parsed = await asyncio.to_thread(parse_upload, name, data, *self._limits())
        infos = await self._enqueue([(parsed, kind, list(tags))])
        return infos[0]

    async def add_documents(
        self, files: Sequence[tuple[str, bytes]], *, kind: DocumentKind = "document", tags: Sequence[str] = ()
    ) -> list[DocumentInfo]:
        """Store many files in one batch (one pipeline run); every file is checked before any is stored."""
        await self._db_guard.check()  # db guard
        parsed = [await asyncio.to_thread(parse_upload, n, d, *self._limits()) for n, d in files]
        return await self._enqueue([(p, kind, list(tags)) for p in parsed])

    async def enqueue_parsed(self, items: list[tuple[ParsedDocument, DocumentKind, list[str]]]) -> list[DocumentInfo]:
        """Store already-parsed documents (reindex, imports); same rules as add_document."""
        return await self._enqueue(items)

    async def _enqueue(self, items: list[tuple[ParsedDocument, DocumentKind, list[str]]]) -> list[DocumentInfo]:
        return await self.queue.accept(items)

    @property
    def queue(self) -> IngestQueue:
        if self._queue is None:
            raise CortexUnavailableError("CORTEX is not started", "call `await cortex.start()` first")
        return self._queue

    async def wait_idle(self, timeout: float = 300.0) -> None:
        """Wait until no document is pending or processing (tests, batch import, the CLI)."""
        await self.queue.wait_idle(timeout)

    async def list_documents(self, status: Sequence[DocumentState] = ()) -> list[DocumentInfo]:
        await self._db_guard.check()  # db guard
        await self.queue.sync()
        return [r.info for r in self.registry.all(status)]

    async def get_document(self, doc_id: str) -> DocumentInfo:
        await self._db_guard.check()  # db guard
        await self.queue.sync([doc_id])
        record = self.registry.get(doc_id)
        if record is None:
            raise DocumentNotFoundError(f"no document with id {doc_id!r}", "list the stored ones with GET /documents")
        return record.info

    async def delete_document(self, doc_id: str) -> None:
        """Forget a document; its chunks, vectors and graph contributions go with it (at once when idle)."""
        await self._db_guard.check()  # db guard
        await self.queue.delete(doc_id)

    async def check(self, repair: bool = False) -> CheckReport:
        """Compare the document list with LightRAG's stores; with `repair`, fix what is found."""
        from cortex.check import check_store, repair_store

        await self._db_guard.check()  # db guard
        if self._queue is not None:
            await self._queue.sync()
        report = await check_store(self.rag, self.registry)
        if repair and report.problems:
            report = await repair_store(self.rag, self.registry, report, self._queue)
        return report

    # ---- query ------------------------------------------------------------------------------

    async def query(self, request: QueryRequest) -> QueryResult:
        from lightrag import QueryParam  # type: ignore[import-untyped]

        await self._db_guard.check()  # db guard
        t0 = time.perf_counter()
        lang = resolve_lang(request.query, request.lang)
        keywords = extract_keywords(request.query, self.kb) if request.mode != "naive" else None
        param = QueryParam(
            mode=request.mode,
            top_k=request.top_k,
            chunk_top_k=request.top_k,
            hl_keywords=keywords.high if keywords else [],
            ll_keywords=keywords.low if keywords else [],
            enable_rerank=False,
        )
        data = await self.rag.aquery_data(request.query, param)
        await self._db_guard.check()  # db guard: LightRAG turns some failed calls into empty results
        warnings: list[str] = []
        if data.get("status") != "success":
            warnings.append(str(data.get("message", "retrieval failed")))
        retrieved = data.get("data") or {}
        doc_ids = {str(c.get("file_path", "")) for c in retrieved.get("chunks") or []}
        labels = self.registry.labels([d for d in doc_ids if d and not d.startswith(TRIZ_PREFIX)])
        pages = await self._page_texts(labels)
        sources, context = build_sources(
            retrieved,
            kb=self.kb,
            lang=lang,
            docs=lambda key: self._doc_ref(labels.get(key), pages.get(key, "")),
            limit=max(request.top_k, 5) * 2,
            pairs=keywords.pairs if keywords else (),
        )
        return QueryResult(
            query=request.query,
            mode_requested=request.mode,
            mode=request.mode,
            lang=lang,
            context=context,
            sources=sources,
            keywords=keywords.all if keywords else [],
            warnings=warnings,
            elapsed_ms=round((time.perf_counter() - t0) * 1000, 2),
        )

    async def _page_texts(self, labels: dict[str, DocumentLabel]) -> dict[str, str]:
        """Full texts of the paged documents (PDFs) among those retrieved, to find a chunk's page."""
        texts: dict[str, str] = {}
        for doc_id, label in labels.items():
            if not label.page_starts:
                continue
            if doc_id not in self._doc_text_cache:
                row = await self.rag.full_docs.get_by_id(doc_id)
                self._doc_text_cache[doc_id] = str((row or {}).get("content", ""))
            texts[doc_id] = self._doc_text_cache[doc_id]
        return texts

    @staticmethod
    def _doc_ref(label: DocumentLabel | None, full: str) -> DocRef | None:
        if label is None:
            return None
        starts = label.page_starts

        def page(chunk_text: str) -> int | None:
            """The page holding most of the chunk."""
            if not starts or not full:
                return None
            begin = full.find(chunk_text[:80].strip())
            if begin < 0:
                return None
            end = begin + len(chunk_text)
            bounds = [*starts, len(full)]
            spans = [(min(end, bounds[i + 1]) - max(begin, bounds[i]), i + 1) for i in range(len(starts))]
            return max(spans)[1]

        return DocRef(name=label.name, kind=label.kind, page=page)

    # ---- health -----------------------------------------------------------------------------

    async def health(self) -> CortexHealth:
        if self._rag is None or self._manifest is None:
            return CortexHealth(
                status="starting",
                embedder=self.settings.embedder,
                dim=0,
                documents=0,
                knowledge_version="",
                llm=self.settings.llm_model or None,
                storage="",
            )
        s = self.settings
        ok = self._queue is not None and self._queue.alive
        reason = await self._db_guard.problem()  # db guard: a bounded probe, cached briefly
        ok = ok and reason is None
        return CortexHealth(
            status="ok" if ok else "degraded",
            reason=reason,
            embedder=self._manifest.embedder,
            dim=self._manifest.dim,
            documents=self.registry.count(),
            knowledge_version=self._manifest.knowledge_version,
            llm=s.llm_model or None,
            storage=f"{s.kv_storage}, {s.vector_storage}, {s.graph_storage}, {s.doc_status_storage}",
        )
