"""Cortex: the in-process CORTEX service over LightRAG (TRIZ graph, user documents, retrieval).

The facade over its parts: store_manifest.py (what a store was built with), rag.py (LightRAG opened with
CORTEX's settings), graph_sync.py (the TRIZ graph), ingest.py (the document queue), query.py (retrieval).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from cortex.backend import CortexBackend
from cortex.documents import Upload, collection_of, parse_upload
from cortex.embedding import VectorMemo, resolve_embedder
from cortex.errors import CortexError, CortexUnavailableError, DocumentNotFoundError
from cortex.graph_sync import ensure_triz_graph
from cortex.ingest import IngestQueue
from cortex.models import (
    CheckReport,
    CortexHealth,
    DocumentInfo,
    DocumentKind,
    DocumentState,
    QueryRequest,
    QueryResult,
)
from cortex.query import Retrieval
from cortex.registry import Manifest, Registry
from cortex.storage.pg_guard import DbGuard, NullGuard, guard_for
from cortex.storage.postgres import PgTarget
from cortex.storage.selection import StoragePlan, plan_storage
from cortex.store_manifest import check_manifest, load_manifest, save_manifest
from cortex.workspace import FILE_STORE_HINT, FILE_STORE_SINGLE_PROCESS, StoreLock, claim, release, several_workers
from synapse.config import CortexSettings
from synapse.embeddings import Embedder
from synapse.embeddings.child import EmbeddingProcess
from synapse.triz import TrizKnowledge, load_knowledge

log = logging.getLogger(__name__)

_NOT_STARTED = ("CORTEX is not started", "call `await cortex.start()` first")


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
        self._retrieval = Retrieval(self.kb, graph_documents=bool(self.settings.llm_model))
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
            raise CortexUnavailableError(*_NOT_STARTED)
        return self._registry

    @property
    def rag(self) -> Any:
        if self._rag is None:
            raise CortexUnavailableError(*_NOT_STARTED)
        return self._rag

    @property
    def queue(self) -> IngestQueue:
        if self._queue is None:
            raise CortexUnavailableError(*_NOT_STARTED)
        return self._queue

    def check_embedder(self, manifest: Manifest) -> None:
        """Refuse a store built with another embedder or another vector storage."""
        check_manifest(manifest, self.settings, self.embedder, self.data_dir)

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
        registry, manifest = await self._open_records()
        self._registry, self._manifest = registry, manifest
        try:
            self._rag = await self._open_rag(manifest.workspace)
            # db guard: watches the database from now on, wakes the document worker when it is back
            self._db_guard = guard_for(self._target())
            self._db_guard.on_up(lambda: self._queue.wake() if self._queue is not None else None)
            self._db_guard.start()
            if self._build_graph:
                await self._ensure_triz_graph()
        except BaseException:
            await self.aclose()
            raise
        if self._build_graph:  # else opened to be read (reindex): no graph build, no document processing
            await self._start_queue(registry)

    async def _open_records(self) -> tuple[Registry, Manifest]:
        """Lock the data directory, open the document list and the manifest, check the embedder."""
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
            manifest = await load_manifest(registry, self._target(), self.settings, self.data_dir, emb)
            self.check_embedder(manifest)
            claim(manifest.workspace, str(self.data_dir))
        except BaseException:
            registry.close()
            self._release_lock()
            raise
        return registry, manifest

    async def _start_queue(self, registry: Registry) -> None:
        queue = IngestQueue(
            self._rag,
            registry,
            process_options=None if self.settings.llm_model else "!",
            forget=self._retrieval.forget,
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

    def _target(self) -> PgTarget | None:
        return self._plan.target if self._plan else None

    async def _open_rag(self, workspace: str) -> Any:
        from cortex.rag import open_rag

        s, emb = self.settings, self.embedder
        process = EmbeddingProcess(emb.name) if s.embed_process and EmbeddingProcess.supports(emb) else None
        self._memo = VectorMemo(emb, self.cache_dir, process=process)
        return await open_rag(s, self.data_dir, workspace, self._memo)

    async def _ensure_triz_graph(self) -> None:
        assert self._manifest is not None and self._memo is not None
        built = await ensure_triz_graph(self.rag, self.kb, self._memo, self._manifest, self._save_manifest)
        if built:
            self.kg_builds += 1

    async def _save_manifest(self, manifest: Manifest) -> None:
        await save_manifest(self.registry, self._target(), self.settings, manifest)

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
        collection: str | None = None,
    ) -> DocumentInfo:
        """Store a file; returns at once with status pending, processing continues in the background."""
        infos = await self.add_documents([(name, data)], kind=kind, tags=tags, collection=collection)
        return infos[0]

    async def add_documents(
        self,
        files: Sequence[tuple[str, bytes]],
        *,
        kind: DocumentKind = "document",
        tags: Sequence[str] = (),
        collection: str | None = None,
    ) -> list[DocumentInfo]:
        """Store many files in one batch (one pipeline run); every file is checked before any is stored."""
        scope = collection_of(collection)  # a bad name is refused before anything is read
        await self._db_guard.check()  # db guard: 503 at once while the database is down
        parsed = [await asyncio.to_thread(parse_upload, n, d, *self._limits()) for n, d in files]
        return await self._enqueue([Upload(p, kind, list(tags), scope) for p in parsed])

    async def enqueue_parsed(self, items: list[Upload]) -> list[DocumentInfo]:
        """Store already-parsed documents (reindex, imports); same rules as add_document."""
        return await self._enqueue(items)

    async def _enqueue(self, items: list[Upload]) -> list[DocumentInfo]:
        return await self.queue.accept(items)

    async def wait_idle(self, timeout: float = 300.0) -> None:
        """Wait until no document is pending or processing (tests, batch import, the CLI)."""
        await self.queue.wait_idle(timeout)

    async def list_documents(
        self, status: Sequence[DocumentState] = (), collection: str | None = None
    ) -> list[DocumentInfo]:
        wanted = collection_of(collection)
        await self._db_guard.check()  # db guard
        await self.queue.sync()
        return [r.info for r in self.registry.all(status, wanted)]

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

    # ---- query and health -------------------------------------------------------------------

    async def query(self, request: QueryRequest) -> QueryResult:
        await self._db_guard.check()  # db guard
        return await self._retrieval.query(self.rag, self.registry, request, self._db_guard)

    async def health(self) -> CortexHealth:
        s = self.settings
        if self._rag is None or self._manifest is None:
            return CortexHealth(
                status="starting",
                embedder=s.embedder,
                dim=0,
                documents=0,
                knowledge_version="",
                llm=s.llm_model or None,
                storage="",
                graph_documents=bool(s.llm_model),
            )
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
            graph_documents=bool(s.llm_model),
        )


__all__ = ["Cortex"]
