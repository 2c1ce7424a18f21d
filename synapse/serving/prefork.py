"""What a server's master process does before it starts several workers.

CORTEX's part (LightRAG's shared state, the store opened once and locked for the workers) is in
`cortex.workers`; here the master runs the store's preparation in a helper process it watches.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from contextlib import contextmanager

from cortex.workers import (
    open_store_once,
    release_lightrag_state,
    share_lightrag_state,
    store_held_for_workers,
    workers_refusal,
)
from synapse.config import CortexSettings
from synapse.embeddings.parent_watch import watch_parent
from synapse.errors import SynapseError


class StorePreparationError(SynapseError):
    """The CORTEX store could not be opened before the workers start."""


def check_cortex_store(settings: CortexSettings, workers: int, *, what: str, hint: str = "") -> None:
    """Refuse a store that several processes cannot share (the file storages)."""
    refusal = workers_refusal(settings, workers)
    if refusal is not None:
        reason, fix = refusal
        raise SynapseError(f"{what} cannot run {workers} workers: {reason}", hint or fix)


@contextmanager
def cortex_store_for_workers(settings: CortexSettings) -> Iterator[None]:
    """Prepare the store in a helper process, then hold its lock for the workers while the server runs."""
    with store_held_for_workers(settings):
        # A spawned process, not a fork: the master must not load the embedder or open connections
        # that its forked workers would then share.
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(1, initializer=watch_parent, initargs=(os.getpid(),)) as pool:
            failure = pool.apply(open_store_once, (settings,))
        if failure is not None:
            raise StorePreparationError(*failure)
        yield


__all__ = [
    "StorePreparationError",
    "check_cortex_store",
    "cortex_store_for_workers",
    "release_lightrag_state",
    "share_lightrag_state",
]
