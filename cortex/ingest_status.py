"""The document queue's bookkeeping: where each document is, LightRAG's progress copied into the registry, checkpoints.

A document LightRAG reports processed is committed (`processed` in the registry) only by a checkpoint
that flushed every store after it was seen so; see ingest.py for the queue that schedules the work.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

from cortex.lightrag_compat import is_cancellation, rows_for, storages
from cortex.models import DocumentState
from cortex.registry import Registry, StatusChange
from cortex.storage.pg_guard import DbGuard, NullGuard

log = logging.getLogger("cortex.ingest")  # the name these records had before the module was split off

_STATES: dict[str, DocumentState] = {
    "pending": "pending",
    "parsing": "pending",
    "analyzing": "processing",
    "preprocessed": "processing",
    "processing": "processing",
    "processed": "processed",
    "failed": "failed",
}
#: A checkpoint (every store flushed) may take at most this share of the time.
CHECKPOINT_SHARE = 0.1
#: While documents are in flight, checkpoints are at least this far apart (a single document commits at once).
CHECKPOINT_BATCH_S = 2.0
MAX_RETRIES = 5


def state_of(row: dict[str, Any]) -> DocumentState:
    return _STATES.get(str(row.get("status", "")).split(".")[-1].lower(), "pending")


class QueueStatus:
    """The sets of document ids the queue keeps, and the status sync and checkpoints that work on them."""

    def __init__(self, rag: Any, registry: Registry, guard: DbGuard | None = None) -> None:
        self.rag, self.registry = rag, registry
        self._guard: DbGuard = guard or NullGuard()
        self._handover: list[str] = []  # accepted, not yet given to LightRAG
        self._handed: set[str] = set()  # given to LightRAG by this process, not yet committed
        self._redo: set[str] = set()  # to purge from LightRAG's stores and hand over again
        self._unpurged: set[str] = set()  # deleted, traces not yet removed
        self._purged: set[str] = set()  # traces removed in memory; tombstone goes at the next checkpoint
        self._seen_processed: dict[str, int] = {}  # LightRAG says processed; committed at the next checkpoint
        self._cancelled: set[str] = set()  # in a pipeline run this queue cancelled: their failure is not theirs
        self._retries: dict[str, int] = {}
        self._sync_lock = asyncio.Lock()
        self._wakeup, self._poke = asyncio.Event(), asyncio.Event()
        self._next_checkpoint = self._last_checkpoint = 0.0

    def _busy(self) -> bool:
        return bool(self._handover or self._handed or self._redo or self._unpurged or self._purged)

    async def sync(self, doc_ids: Sequence[str] | None = None) -> None:
        """Copy LightRAG's progress on unfinished documents into the registry (`processed` waits for a checkpoint)."""
        async with self._sync_lock:
            pending = self.registry.unfinished_states(doc_ids)
            if doc_ids is None:  # deleted or failed meanwhile: nothing more to wait for
                self._handed &= set(pending)
            # LightRAG's row of a document not handed over yet is an older one's (before a retry or a redo).
            waiting = self._unpurged | self._redo | set(self._handover)
            pending = {d: s for d, s in pending.items() if d not in waiting}
            if not pending:
                return
            rows = await rows_for(self.rag.doc_status, list(pending))
            changes: list[StatusChange] = []
            for (doc_id, known), row in zip(pending.items(), rows, strict=True):
                if not row:
                    continue
                state = state_of(row)
                if state == "processed":
                    self._seen_processed[doc_id] = int(row.get("chunks_count") or 0)
                    state = "processing"
                elif state == "failed" and self._retry_cancelled(doc_id, row):
                    continue
                if state != known:
                    error = row.get("error_msg") if state == "failed" else None
                    if state == "failed":
                        await self._unindex_chunks(row.get("chunks_list") or [])
                        self._handed.discard(doc_id)
                    changes.append(StatusChange(doc_id, state, error, int(row.get("chunks_count") or 0)))
            self.registry.set_statuses(changes)

    def _retry_cancelled(self, doc_id: str, row: dict[str, Any]) -> bool:
        """A document whose run was cancelled (another one was deleted, or a store failed) goes again, 5 times."""
        if doc_id not in self._cancelled and not is_cancellation(row.get("error_msg")):
            return False
        self._cancelled.discard(doc_id)
        tries = self._retries[doc_id] = self._retries.get(doc_id, 0) + 1
        if tries > MAX_RETRIES:
            return False
        self._redo.add(doc_id)
        self._wakeup.set()
        return True

    async def _unindex_chunks(self, chunk_ids: Sequence[str]) -> None:
        """Take a failed document's chunks out of retrieval: LightRAG leaves what it stored before failing."""
        if not chunk_ids:
            return
        try:
            await self.rag.chunks_vdb.delete(list(chunk_ids))
            await self.rag.text_chunks.delete(list(chunk_ids))
        except Exception:  # the document stays failed either way; a retry re-creates or replaces them
            log.exception("removing the chunks of a failed document failed")

    async def checkpoint(self, force: bool = False) -> None:
        """Flush every LightRAG store, then commit the documents seen processed before the flush began.

        A flush rewrites the JSON stores whole, so checkpoints are spaced to take at most a tenth of the time.
        """
        # While other documents are in flight, wait a little for them: checkpoints then cover many documents.
        in_flight = bool(self._handover or (self._handed - set(self._seen_processed)))
        wait = self._last_checkpoint + (CHECKPOINT_BATCH_S if in_flight else 0.0) - time.monotonic()
        wait = max(wait, self._next_checkpoint - time.monotonic())
        if wait > 0 and not force:
            asyncio.get_running_loop().call_later(wait, self._poke.set)
            return
        seen, purged = dict(self._seen_processed), set(self._purged)
        started = time.monotonic()
        await flush_all(self.rag)
        self._last_checkpoint = time.monotonic()
        self._next_checkpoint = self._last_checkpoint + (self._last_checkpoint - started) / CHECKPOINT_SHARE
        changes = [StatusChange(d, "processed", None, n) for d, n in seen.items()]
        await asyncio.to_thread(self._commit, changes, purged)
        for doc_id in seen:
            self._seen_processed.pop(doc_id, None)
            self._handed.discard(doc_id)
            self._cancelled.discard(doc_id)
        self._purged -= purged

    def _commit(self, changes: list[StatusChange], purged: set[str]) -> None:
        self.registry.set_statuses(changes)
        for doc_id in purged:
            self.registry.bury(doc_id)

    async def _stored(self, row: dict[str, Any]) -> bool:
        """Whether every chunk a status row lists has its text and its vector."""
        ids = list(row.get("chunks_list") or [])
        if not ids:
            return False
        texts = await rows_for(self.rag.text_chunks, ids)
        vectors = await rows_for(self.rag.chunks_vdb, ids)
        return all(texts) and all(vectors)

    async def _ghosts(self) -> set[str]:
        """Documents LightRAG would process that the registry does not know (deleted): purge them."""
        from lightrag.base import DocStatus  # type: ignore[import-untyped]

        statuses = [DocStatus.PENDING, DocStatus.PROCESSING, DocStatus.FAILED]
        rows = await self.rag.doc_status.get_docs_by_statuses(statuses)
        known = {r.info.id for r in self.registry.all()}
        return {d for d in rows if not d.startswith("dup-") and d not in known}


async def flush_all(rag: Any) -> None:
    """Make every store's changes durable, the document status last (it says what the others hold).

    CORTEX's JSON stores append their changed rows to a journal; the others write as LightRAG's do.
    """
    for storage in storages(rag):
        write = getattr(storage, "journal_now", None) or getattr(storage, "flush_now", None)
        await (write() if write is not None else storage.index_done_callback())
