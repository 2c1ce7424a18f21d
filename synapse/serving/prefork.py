"""What a server's master process does before it starts several workers.

LightRAG coordinates processes through its shared storage: `initialize_share_data(workers)` in the
master, before the fork, puts the pipeline's busy flag, its queue and the storage locks in a manager
process that every worker inherits. A CORTEX store opened in the workers is first opened once by the
master's helper process, so that the manifest is written and the TRIZ graph is built once, not raced
by every worker; the master then holds the store's lock for its workers.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from synapse.config import CortexSettings
from synapse.embeddings.parent_watch import watch_parent
from synapse.errors import SynapseError


class StorePreparationError(SynapseError):
    """The CORTEX store could not be opened before the workers start."""


def _shared_storage() -> Any:
    from lightrag.kg import shared_storage  # type: ignore[import-untyped]

    return shared_storage


def share_lightrag_state(workers: int) -> None:
    """Set up LightRAG's shared storage for `workers` processes (in the master, before the fork).

    Its manager process is made to watch the master: LightRAG starts it without an initializer, and a
    manager outlives a killed master (it waits for a shutdown message that never comes).
    """
    ss = _shared_storage()

    manager_class = ss._LightRAGManager
    plain_start: Callable[..., Any] = manager_class.start
    master = os.getpid()

    def start_watched(self: Any, initializer: Any = None, initargs: tuple[Any, ...] = ()) -> Any:
        if initializer is None:
            initializer, initargs = watch_parent, (master,)
        return plain_start(self, initializer, initargs)

    manager_class.start = start_watched
    try:
        ss.initialize_share_data(workers)
    finally:
        manager_class.start = plain_start


def release_lightrag_state() -> None:
    """Stop LightRAG's manager process (the master, at exit)."""
    ss = _shared_storage()

    manager = getattr(ss, "_manager", None)
    process = getattr(manager, "_process", None)
    if process is not None and not process.is_alive():
        # Ctrl-C reaches the whole process group: the manager died with it and has nothing to shut down.
        ss._manager = None
    ss.finalize_share_data()


def _open_once(settings: CortexSettings) -> tuple[str, str] | None:
    """In a fresh process: open the store (manifest, TRIZ graph) and close it; an error as (message, hint)."""
    from cortex import Cortex

    async def run() -> None:
        async with Cortex(settings):
            pass

    try:
        asyncio.run(run())
    except SynapseError as exc:
        return exc.message, exc.hint or ""
    return None


def check_cortex_store(settings: CortexSettings, workers: int, *, what: str, hint: str = "") -> None:
    """Refuse a store that several processes cannot share (the file storages)."""
    if workers > 1 and settings.storage == "file":
        from cortex.workspace import FILE_STORE_HINT, FILE_STORE_SINGLE_PROCESS

        message = f"{what} cannot run {workers} workers: {FILE_STORE_SINGLE_PROCESS}"
        raise SynapseError(message, hint or FILE_STORE_HINT)


@contextmanager
def cortex_store_for_workers(settings: CortexSettings) -> Iterator[None]:
    """Prepare the store in a helper process, then hold its lock for the workers while the server runs."""
    from cortex.workspace import StoreLock

    data_dir = Path(settings.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    lock = StoreLock(data_dir)
    lock.hold_for_workers()
    try:
        # A spawned process, not a fork: the master must not load the embedder or open connections
        # that its forked workers would then share.
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(1, initializer=watch_parent, initargs=(os.getpid(),)) as pool:
            failure = pool.apply(_open_once, (settings,))
        if failure is not None:
            raise StorePreparationError(*failure)
        yield
    finally:
        lock.release_for_workers()
