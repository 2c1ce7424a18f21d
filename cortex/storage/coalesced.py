"""LightRAG's JSON key-value, document-status and NetworkX graph storages, flushed at most every few seconds.

They rewrite their whole file on every flush, and LightRAG flushes after every document (the status
store after every status change; the graph even when the document added nothing to it), so ingest
grew quadratically. Here a flush request starts a timer;
the file is written once when it fires, and always on finalize. A crash loses at most that window;
LightRAG then sees the affected documents as unfinished and processes them again.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from lightrag.kg.json_doc_status_impl import JsonDocStatusStorage  # type: ignore[import-untyped]
from lightrag.kg.json_kv_impl import JsonKVStorage  # type: ignore[import-untyped]
from lightrag.kg.networkx_impl import NetworkXStorage  # type: ignore[import-untyped]

FLUSH_DELAY_S = 2.0


class _CoalescedFlush:
    """Mixin: `index_done_callback` schedules one delayed write instead of writing now."""

    _flush_task: asyncio.Task[None] | None = None

    async def index_done_callback(self) -> None:
        task = self._flush_task
        if task is None or task.done():
            self._flush_task = asyncio.get_running_loop().create_task(self._flush_later())

    async def _flush_later(self) -> None:
        await asyncio.sleep(FLUSH_DELAY_S)
        await super().index_done_callback()  # type: ignore[misc]

    async def flush_now(self) -> None:
        task, self._flush_task = self._flush_task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await super().index_done_callback()  # type: ignore[misc]

    async def finalize(self) -> Any:
        await self.flush_now()
        return await super().finalize()  # type: ignore[misc]


class CortexKVStorage(_CoalescedFlush, JsonKVStorage):  # type: ignore[misc]
    """JsonKVStorage with coalesced flushes (same files, so either can open the other's store)."""


class CortexDocStatusStorage(_CoalescedFlush, JsonDocStatusStorage):  # type: ignore[misc]
    """JsonDocStatusStorage with coalesced flushes (same files)."""


class CortexGraphStorage(_CoalescedFlush, NetworkXStorage):  # type: ignore[misc]
    """NetworkXStorage with coalesced flushes (same GraphML file)."""
