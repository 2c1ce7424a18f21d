"""What a server's master process does for CORTEX before it starts several workers, and at exit.

LightRAG coordinates processes through its shared storage: `initialize_share_data(workers)` in the
master, before the fork, puts the pipeline's busy flag, its queue and the storage locks in a manager
process that every worker inherits. A CORTEX store opened in the workers is first opened once by a
helper process of the master, so that the manifest is written and the TRIZ graph is built once, not
raced by every worker; the master then holds the store's lock for its workers.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cortex.lightrag_compat import release_state, share_state
from cortex.workspace import FILE_STORE_HINT, FILE_STORE_SINGLE_PROCESS, StoreLock
from synapse.config import CortexSettings
from synapse.embeddings.parent_watch import watch_parent
from synapse.errors import SynapseError


def share_lightrag_state(workers: int) -> None:
    """Set up LightRAG's shared storage for `workers` processes (in the master, before the fork).

    Its manager process is made to watch the master: LightRAG starts it without an initializer, and a
    manager outlives a killed master (it waits for a shutdown message that never comes).
    """
    share_state(workers, watch_parent, (os.getpid(),))


def release_lightrag_state() -> None:
    """Stop LightRAG's manager process (the master, at exit)."""
    release_state()


def workers_refusal(settings: CortexSettings, workers: int) -> tuple[str, str] | None:
    """Why `workers` processes cannot share this store, and the fix; None when they can."""
    if workers > 1 and settings.storage == "file":
        return FILE_STORE_SINGLE_PROCESS, FILE_STORE_HINT
    return None


def open_store_once(settings: CortexSettings) -> tuple[str, str] | None:
    """In a fresh process: open the store (manifest, TRIZ graph) and close it; an error as (message, hint)."""
    from cortex.service import Cortex

    async def run() -> None:
        async with Cortex(settings):
            pass

    try:
        asyncio.run(run())
    except SynapseError as exc:
        return exc.message, exc.hint or ""
    return None


@contextmanager
def store_held_for_workers(settings: CortexSettings) -> Iterator[None]:
    """Hold the store's lock in the master while its workers run; they may open the store, nobody else may."""
    data_dir = Path(settings.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    lock = StoreLock(data_dir)
    lock.hold_for_workers()
    try:
        yield
    finally:
        lock.release_for_workers()


__all__ = [
    "open_store_once",
    "release_lightrag_state",
    "share_lightrag_state",
    "store_held_for_workers",
    "workers_refusal",
]
