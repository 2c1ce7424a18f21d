"""Where LightRAG runs its token counting: in the caller for small texts, in a thread for large ones.

LightRAG 1.5 hands every token count to a one-thread pool so that tokenizing a long document never
stalls the event loop. A hybrid query makes about fourteen such hand-offs for a few kilobytes of text
each; with CORTEX's numpy tokenizer the counting itself takes microseconds, but each hand-off costs two
thread switches, and on a busy 2-core machine every switch waits for a core (hybrid p50 went from
tens of milliseconds to hundreds while an ingest ran). Small work therefore runs in place; work over
INLINE_MAX_CHARS of text still goes to the thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

from cortex.lightrag_compat import has_tokenizer_executor, swap_tokenizer_executor

log = logging.getLogger("cortex")

T = TypeVar("T")

# About 2 ms of tokenizing on a slow core: longer than that belongs off the event loop.
INLINE_MAX_CHARS = 100_000


def _text_size(values: Iterable[Any]) -> int:
    """Characters of the strings among `values` and among a partial's arguments (no deeper: it is on every call).

    Lists of query results (what LightRAG truncates) are query-sized and run in place.
    """
    size = 0
    for value in values:
        if isinstance(value, str):
            size += len(value)
        elif isinstance(value, partial):
            size += _text_size((*value.args, *value.keywords.values()))
    return size


class InlineSmallWorkExecutor(Executor):
    """Runs small submissions at once in the submitting thread, large ones in a single worker thread."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cortex-tokenizer")
        self.inline_runs = 0
        self.thread_runs = 0

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        if _text_size((fn, *args, *kwargs.values())) > INLINE_MAX_CHARS:
            self.thread_runs += 1
            return self._pool.submit(fn, *args, **kwargs)
        self.inline_runs += 1
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # the awaiting caller gets it, as it would from the pool
            future.set_exception(exc)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)


_installed: InlineSmallWorkExecutor | None = None


def install_tokenizer_executor() -> InlineSmallWorkExecutor | None:
    """Give LightRAG's token counting the executor above (once per process); None if LightRAG has no hook."""
    global _installed
    if _installed is not None:
        return _installed
    if not has_tokenizer_executor():
        log.info("this LightRAG has no tokenizer executor to replace; its own is used")
        return None
    _installed, previous = swap_tokenizer_executor(InlineSmallWorkExecutor)
    if previous is not None:
        previous.shutdown(wait=False)
    return _installed
