"""The document queue: an accepted document is durable, handed to LightRAG, and committed once stored.

An upload is answered 202 only after its row and its text are committed to the registry (fsync'd). Then:
hand-over (LightRAG's enqueue, batched across concurrent uploads) -> LightRAG's pipeline -> status sync
-> checkpoint -> `processed`. The registry is the truth: a document becomes `processed` there only after
every LightRAG store has been flushed with it (a checkpoint), so a crash at any moment leaves each
document either processed and complete, or unfinished; on start every unfinished document is purged from
LightRAG's stores and handed over again from the registry's copy of its text, whatever LightRAG's own
status files say. Deleting leaves a tombstone until the document's traces are gone from every store.
The bookkeeping, status sync and checkpoints are in ingest_status.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any

from cortex.documents import ParsedDocument, Upload
from cortex.errors import CollectionConflictError, CortexError, CortexUnavailableError, DocumentNotFoundError
from cortex.ingest_status import QueueStatus, state_of
from cortex.lightrag_compat import pipeline_busy, request_cancel, rows_for
from cortex.models import DocumentInfo
from cortex.purge import PipelineBusyError, purge_documents
from cortex.registry import Registry, StatusChange
from cortex.storage.pg_guard import DbGuard

log = logging.getLogger(__name__)

#: How often the queue looks at LightRAG's progress while documents are unfinished.
SYNC_INTERVAL_S = 0.5
TEXT_LOST = "its text was not kept (a store from an older CORTEX); upload the file again"


def doc_id_of(parsed: ParsedDocument) -> str:
    return f"doc-{parsed.sha256[:32]}"


def _same_collection(known: DocumentInfo, collection: str | None) -> None:
    """A content is stored once, so in one collection: uploading it again into another one is refused.

    Moving it silently would take it from the profiles that read the first collection. Without a
    collection the upload is a plain "add again" and returns the document as it is.
    """
    if collection is None or collection == known.collection:
        return
    where = f"collection {known.collection!r}" if known.collection else "no collection"
    raise CollectionConflictError(
        f"{known.name} is already stored (id {known.id}) in {where}, not in {collection!r}",
        f"a document is in one collection: delete it (DELETE /documents/{known.id}) and upload it again to move it",
    )


class IngestQueue(QueueStatus):
    """Accepts documents and sees them through LightRAG's pipeline, durably (see the module docstring)."""

    def __init__(
        self,
        rag: Any,
        registry: Registry,
        *,
        process_options: str | None,
        forget: Callable[[str], object],
        guard: DbGuard | None = None,
    ) -> None:
        super().__init__(rag, registry, guard)
        self._options, self._forget = process_options, forget
        self._pipeline = asyncio.Lock()  # one LightRAG pipeline run or purge at a time
        self._progress = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._handing: asyncio.Task[None] | None = None

    # ---- life cycle -------------------------------------------------------------------------

    async def start(self, *, recover: bool) -> None:
        """Start the background work; with `recover`, first re-queue what a previous run left unfinished."""
        self._unpurged = set(self.registry.tombstones())
        if recover:
            await self.recover()
        self._tasks = [
            asyncio.create_task(self._process_forever(), name="cortex-documents"),
            asyncio.create_task(self._commit_forever(), name="cortex-commits"),
        ]
        if not recover and self.registry.unfinished_states():
            self._wakeup.set()  # a worker of a server whose master handed documents over: process them

    @property
    def alive(self) -> bool:
        return bool(self._tasks) and not any(t.done() for t in self._tasks)

    async def close(self, timeout: float = 2.5) -> None:
        """Hand over what is accepted, commit what is stored, stop; each step bounded, whatever the database does.

        Unfinished work resumes at the next start.
        """
        self._start_handover()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(self._handing), timeout)  # type: ignore[arg-type]
        tasks = [*self._tasks, *([self._handing] if self._handing else [])]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)
        self._tasks = []
        with contextlib.suppress(Exception):
            await self._guard.check()
            await asyncio.wait_for(self._sync_and_commit(force=True), timeout)

    # ---- accepting --------------------------------------------------------------------------

    async def accept(self, items: Sequence[Upload]) -> list[DocumentInfo]:
        """Store documents durably (row and text committed) and queue them; known ones are returned as they are."""
        self._check_collections(items)
        out: list[DocumentInfo] = []
        fresh: list[str] = []
        for item in items:
            doc_id = doc_id_of(item.parsed)
            known = self.registry.get(doc_id)
            if known is not None and known.info.status == "failed" and doc_id not in fresh:
                await self.delete(doc_id)  # uploading a failed document again is how a user retries it
                known = None
            if known is not None:
                if known.info.status in ("pending", "processing"):
                    if self.registry.text(doc_id) is None:  # a store from an older CORTEX: the upload has it
                        await asyncio.to_thread(self.registry.keep_text, doc_id, item.parsed.text)
                    await self._unstick(doc_id)
                out.append(known.info)
                continue
            info, new = await asyncio.to_thread(self._insert, doc_id, item)
            if new:
                fresh.append(doc_id)
            out.append(info)
        if fresh:
            self._handover.extend(fresh)
            self._start_handover()
        return out

    def _check_collections(self, items: Sequence[Upload]) -> None:
        """Refuse a batch with a document asked into another collection than its own, before storing any."""
        asked: dict[str, DocumentInfo] = {}
        for item in items:
            doc_id = doc_id_of(item.parsed)
            known = self.registry.get(doc_id)
            if known is not None and known.info.status != "failed":
                _same_collection(known.info, item.collection)
            elif doc_id in asked:  # the same content twice in one batch
                _same_collection(asked[doc_id], item.collection)
            else:
                asked[doc_id] = DocumentInfo.model_construct(
                    id=doc_id, name=item.parsed.name, collection=item.collection
                )

    def _insert(self, doc_id: str, item: Upload) -> tuple[DocumentInfo, bool]:
        """The stored document, and whether this call stored it."""
        parsed = item.parsed
        try:
            info = self.registry.insert(
                doc_id,
                name=parsed.name,
                kind=item.kind,
                content_type=parsed.content_type,
                size=parsed.size,
                sha256=parsed.sha256,
                tags=list(item.tags),
                page_starts=parsed.page_starts,
                collection=item.collection,
                text=parsed.text,
            )
        except sqlite3.IntegrityError:
            # Stored a moment ago (the same file twice in one request, or another worker process): queued once.
            raced = self.registry.get(doc_id)
            if raced is None:
                raise
            return raced.info, False
        return info, True

    async def _unstick(self, doc_id: str) -> None:
        """An unfinished document uploaded again: queue it again unless it is on its way."""
        if doc_id in self._handover or doc_id in self._handed or doc_id in self._redo:
            return
        row = await self.rag.doc_status.get_by_id(doc_id)
        if row and state_of(row) in ("pending", "processing"):
            self._wakeup.set()  # LightRAG holds it: make sure its pipeline runs
            return
        self._redo.add(doc_id)
        self._wakeup.set()

    def _start_handover(self) -> None:
        """Run the hand-over unless it runs: one runner, or a document could be enqueued twice."""
        if self._handing is None or self._handing.done():
            self._handing = asyncio.create_task(self._hand_over(), name="cortex-handover")

    async def _hand_over(self) -> None:
        """Give accepted documents to LightRAG, those of concurrent uploads in one enqueue call.

        Each enqueue call scans LightRAG's whole document status (duplicate checks), so one call per
        upload made ingest of many small documents grow with the store; one call per burst does not.
        """
        delay = 0.005
        while self._handover:
            await asyncio.sleep(delay)  # let concurrent uploads join
            batch = [d for d in dict.fromkeys(self._handover) if d not in self._unpurged]
            if not batch:
                return  # they wait for their tombstones to be purged; the purge hands them over
            texts = {d: self.registry.text(d) for d in batch}
            lost = [d for d, t in texts.items() if t is None]
            if lost:  # no text: a store from an older CORTEX, or another worker finished it meanwhile
                self.registry.fail_unfinished(lost, TEXT_LOST)
            ready = [d for d in batch if texts[d] is not None]
            try:
                if ready:
                    await self.rag.apipeline_enqueue_documents(
                        [texts[d] for d in ready], ids=ready, file_paths=ready, process_options=self._options
                    )
            except Exception as exc:  # stays accepted; tried again, and at the next start at the latest
                log.warning("handing %d documents to LightRAG failed (%s); trying again", len(ready), exc)
                delay = min(30.0, max(0.5, delay * 2))
                continue
            delay = 0.005
            done = set(batch)
            self._handover = [d for d in self._handover if d not in done]
            self._handed.update(d for d in ready if d not in self._unpurged)  # not those deleted meanwhile
            self._wakeup.set()

    async def redo(self, doc_ids: Sequence[str]) -> None:
        """Process documents again from scratch (a repair): purged from LightRAG's stores, then handed over."""
        self._redo.update(doc_ids)
        self._wakeup.set()

    def wake(self) -> None:
        """Look at the work again (the database is back)."""
        self._wakeup.set()
        self._poke.set()
        if self._handover:
            self._start_handover()

    def discard(self, doc_ids: Sequence[str]) -> None:
        """Remove documents the registry does not know from LightRAG's stores (a repair), when it is idle."""
        self._unpurged.update(doc_ids)
        self._wakeup.set()

    # ---- deleting ---------------------------------------------------------------------------

    async def delete(self, doc_id: str) -> None:
        """Forget a document at once; its traces go now when LightRAG is idle, else as soon as it is."""
        if not await asyncio.to_thread(self.registry.delete, doc_id):
            raise DocumentNotFoundError(f"no document with id {doc_id!r}", "list the stored ones with GET /documents")
        self._forget(doc_id)
        self._unpurged.add(doc_id)
        self._handover = [d for d in self._handover if d != doc_id]
        self._redo.discard(doc_id)
        self._seen_processed.pop(doc_id, None)
        if doc_id in self._handed and await pipeline_busy(self.rag):
            self._cancelled.update(self._handed)
            await request_cancel(self.rag)  # its processing stops; the others of the run are queued again
        self._handed.discard(doc_id)
        if not self._pipeline.locked():
            async with self._pipeline:
                with contextlib.suppress(PipelineBusyError):
                    await self._purge()
        self._wakeup.set()

    async def _purge(self) -> None:
        """Remove deleted documents and those to redo from LightRAG's stores; queue the latter again."""
        doomed = self._unpurged | self._redo
        if not doomed:
            return
        redo = set(self._redo)
        for doc_id in redo:  # keep the text first: LightRAG's copy goes with the purge
            if self.registry.text(doc_id) is None:
                row = await self.rag.full_docs.get_by_id(doc_id)
                if row and row.get("content"):
                    await asyncio.to_thread(self.registry.keep_text, doc_id, str(row["content"]))
        await purge_documents(self.rag, doomed)
        self._purged |= self._unpurged & doomed
        self._unpurged -= doomed
        self._redo -= redo
        again = sorted(d for d in redo if self.registry.get(d) is not None)
        if again:
            self.registry.requeue(again)
            self._handover.extend(again)
        if self._handover:
            self._start_handover()
        self._poke.set()

    # ---- processing -------------------------------------------------------------------------

    async def _process_forever(self) -> None:
        backoff = 0.5
        while True:
            await self._wakeup.wait()
            await self._guard.wait_up()  # while the database is down; it wakes this loop when it is back
            self._wakeup.clear()
            try:
                async with self._pipeline:
                    await self._purge()
                    with self._guard.run_scope():  # a run the database went away under stores nothing
                        await self.rag.apipeline_process_enqueue_documents()
                backoff = 0.5
            except PipelineBusyError:
                await asyncio.sleep(backoff)
                self._wakeup.set()
            except Exception:
                log.exception("document processing failed; trying again in %.0f s", backoff)
                await asyncio.sleep(backoff)
                backoff = min(30.0, backoff * 2)
                self._wakeup.set()
            self._poke.set()

    async def _commit_forever(self) -> None:
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._poke.wait(), SYNC_INTERVAL_S)
            self._poke.clear()
            if not self._busy() and not self.registry.unfinished_states():
                self._progress.set()
                continue
            try:
                await self._guard.check()
                await self._sync_and_commit()
            except CortexUnavailableError:
                pass  # the database is down: the guard says so in /health, and wakes the queue when it is back
            except Exception:
                log.exception("committing processed documents failed; trying again")
            self._progress.set()

    async def _sync_and_commit(self, force: bool = False) -> None:
        await self.sync()
        if self._seen_processed or self._purged:
            await self.checkpoint(force=force)

    # ---- recovery ---------------------------------------------------------------------------

    async def recover(self) -> None:
        """After a crash: commit what LightRAG completed, purge and hand over again everything else."""
        unfinished = self.registry.unfinished_states()
        rows = await rows_for(self.rag.doc_status, list(unfinished)) if unfinished else []
        complete: list[StatusChange] = []
        for doc_id, row in zip(unfinished, rows, strict=True):
            if row and state_of(row) == "processed" and await self._stored(row):
                complete.append(StatusChange(doc_id, "processed", None, int(row.get("chunks_count") or 0)))
            else:
                self._redo.add(doc_id)
        self.registry.set_statuses(complete)
        self._unpurged |= await self._ghosts()
        if self._redo or self._unpurged:
            log.info("re-queueing %d unfinished documents, purging %d deleted", len(self._redo), len(self._unpurged))
            async with self._pipeline:
                await self._purge()
            if self._handing is not None:
                await self._handing  # before the store can be closed again (a server's master prepares it)

    # ---- waiting ----------------------------------------------------------------------------

    async def wait_idle(self, timeout: float) -> None:
        """Until no document of this store is pending or processing, and every deletion is done."""
        deadline = time.monotonic() + timeout
        while True:
            await self.sync()
            if not self._busy() and not self._seen_processed and not self.registry.unfinished_states():
                return
            if not self.alive:
                return
            left = deadline - time.monotonic()
            if left <= 0:
                raise CortexError("documents are still processing", "wait longer or check `synapse cortex docs`")
            self._progress.clear()
            self._poke.set()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._progress.wait(), min(left, 1.0))


__all__ = ["IngestQueue", "doc_id_of"]
