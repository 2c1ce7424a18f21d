"""A registry embedder run in a child process, so its Python code does not take turns with the caller's.

The offline embedder spends part of each call in Python (its tokenizer), holding the GIL. A server that
embeds documents in a thread therefore slows its own event loop, and the loop slows the embedder: on
2 cores a 2,000-document ingest kept 1.04 cores busy, and each text took 17 ms to embed instead of 10.
In a child process both run at full speed on their own core.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
import time
import types
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

import numpy as np

from synapse.embeddings.base import Embedder, Vectors
from synapse.embeddings.parent_watch import watch_parent
from synapse.embeddings.registry import available_embedders, get_embedder

log = logging.getLogger(__name__)

#: How long `close` lets a busy child finish its batch before it ends the child: the caller is going,
#: so the vectors would be thrown away, and a server's shutdown must not wait for a long batch.
CLOSE_GRACE_S = 1.0


class EmbeddingProcessClosed(RuntimeError):
    """The embedding process was closed while it embedded this batch (the caller is shutting down)."""


# Set in the child by _load: the one embedder this process serves.
_child_embedder: Embedder | None = None


def _load(name: str, blas_threads: int, parent_pid: int) -> None:
    global _child_embedder
    from synapse.blas import limit_blas_threads

    watch_parent(parent_pid)  # a killed server takes its child with it
    # Ctrl-C reaches the whole process group; the parent stops this child itself when it shuts down.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    limit_blas_threads(blas_threads)
    _child_embedder = get_embedder(name)
    _child_embedder.embed(["warm-up"])


def _encode(texts: list[str]) -> Vectors:
    assert _child_embedder is not None, "the embedding process was not initialised"
    return _child_embedder.embed(texts)


def _ready() -> int:
    return os.getpid()


@contextmanager
def _main_script_hidden() -> Iterator[None]:
    """Keep spawn from running the caller's script again in the child.

    Spawn re-imports the parent's `__main__` file in the child, so a user's script without an
    `if __name__ == "__main__":` guard would do all its work a second time there (open the store,
    upload its documents). Without a file or spec to import, the child imports only this module.
    """
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


class EmbeddingProcess:
    """`get_embedder(name)` in one spawned process; it starts in the background and serves once ready.

    `embed` answers None until the child has loaded its model, and for good once it has failed or been
    closed: the caller then embeds in its own process, so it never waits for the start, and a broken
    child costs speed, not answers.
    """

    def __init__(self, name: str, blas_threads: int = 1) -> None:
        if name not in available_embedders():
            raise ValueError(f"{name!r} is not a registry embedder; a child process cannot load it")
        self.name = name
        self.blas_threads = blas_threads
        self._pool: ProcessPoolExecutor | None = None
        self._ready: Future[int] | None = None
        self._stopped = False
        self._lock = threading.Lock()

    @staticmethod
    def supports(embedder: Embedder) -> bool:
        """Whether `embedder` is a registry embedder that a child can re-create by its name."""
        return embedder.name in available_embedders() and type(embedder) is type(get_embedder(embedder.name))

    def start(self) -> None:
        """Spawn the child (once); it loads the model while the caller goes on."""
        with self._lock:
            if self._pool is not None or self._stopped:
                return
            self._pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),  # fork would copy a running event loop
                initializer=_load,
                initargs=(self.name, self.blas_threads, os.getpid()),
            )
            with _main_script_hidden():  # the first submit spawns the child
                self._ready = self._pool.submit(_ready)

    @property
    def pid(self) -> int | None:
        """The child's process id once it has loaded the model, else None."""
        ready = self._ready
        if self._stopped or ready is None or not ready.done() or ready.exception() is not None:
            return None
        return ready.result()

    def embed(self, texts: list[str]) -> Vectors | None:
        """Vectors from the child (blocking), or None when it is not serving: embed them yourself."""
        self.start()
        pool, ready = self._pool, self._ready
        if pool is None or ready is None or not ready.done():
            return None
        if ready.exception() is not None:
            log.warning("the embedding process did not start (%s); embedding in this process", ready.exception())
            self.close()
            return None
        try:
            vectors: Any = pool.submit(_encode, texts).result()
        except Exception as exc:  # the child died or failed: go on without it
            if self._stopped:  # closed by its owner meanwhile: embedding it here would only delay the shutdown
                raise EmbeddingProcessClosed("the embedding process was closed while it embedded") from exc
            log.warning("the embedding process failed (%s); embedding in the server process from now on", exc)
            self.close()
            return None
        return np.asarray(vectors, dtype=np.float32)

    def close(self, grace_s: float = CLOSE_GRACE_S) -> None:
        """Stop the child for good: an idle one ends at once, a busy one after `grace_s` at the latest.

        A batch in flight then fails with EmbeddingProcessClosed rather than being embedded again here.
        """
        with self._lock:
            self._stopped = True
            pool, self._pool = self._pool, None
        if pool is None:
            return
        # The executor offers no public way to end its workers; its process table is stable across versions.
        processes = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        _end(processes, grace_s)


def _end(processes: list[Any], grace_s: float) -> None:
    """Wait up to `grace_s` for the processes to exit, then terminate (and kill) those still running."""
    deadline = time.monotonic() + grace_s
    for process in processes:
        if _exited(process, max(0.0, deadline - time.monotonic())):
            continue
        process.terminate()
        if not _exited(process, 2.0):
            process.kill()
            _exited(process, 2.0)


def _exited(process: Any, wait_s: float) -> bool:
    # The sentinel, not join: the executor's own thread may reap the child at the same moment.
    try:
        return bool(multiprocessing.connection.wait([process.sentinel], wait_s))
    except (ValueError, OSError):  # closed: the executor has joined and released it
        return True
