"""LightRAG's token counting: small texts counted in place, large ones in the worker thread."""

from __future__ import annotations

import threading
from functools import partial

import lightrag.utils as lightrag_utils
import pytest

from cortex.tokenizer import offline_tokenizer
from cortex.tokenizer_executor import INLINE_MAX_CHARS, InlineSmallWorkExecutor, install_tokenizer_executor


def _thread_of_count(text: str) -> tuple[str, int]:
    tokenizer = offline_tokenizer()
    return threading.current_thread().name, len(tokenizer.encode(text))


@pytest.mark.asyncio
async def test_lightrag_counts_small_texts_in_place_and_large_ones_in_a_thread() -> None:
    executor = install_tokenizer_executor()
    assert executor is not None
    assert lightrag_utils.get_tokenizer_executor() is executor
    here = threading.current_thread().name
    small = await lightrag_utils.run_in_tokenizer_executor(_thread_of_count, "кратко: short text")
    large = await lightrag_utils.run_in_tokenizer_executor(_thread_of_count, "x" * (INLINE_MAX_CHARS + 4))
    assert small == (here, len(offline_tokenizer().encode("кратко: short text")))
    assert large[0] != here and large[0].startswith("cortex-tokenizer")
    assert large[1] == (INLINE_MAX_CHARS + 4) // 4
    # LightRAG's own helpers go the same way, and its answers are unchanged.
    assert await lightrag_utils.acount_tokens(offline_tokenizer(), "abcdefgh") == 2


@pytest.mark.asyncio
async def test_a_failure_reaches_the_awaiting_caller() -> None:
    install_tokenizer_executor()

    def broken(text: str) -> int:
        raise ValueError(f"cannot count {text}")

    with pytest.raises(ValueError, match="cannot count this"):
        await lightrag_utils.run_in_tokenizer_executor(broken, "this")


def test_text_in_a_partial_counts_towards_the_limit() -> None:
    executor = InlineSmallWorkExecutor()
    try:
        big, small = "y" * (INLINE_MAX_CHARS + 1), "y" * 10
        for text in (big, small):
            executor.submit(partial(lambda t: threading.current_thread().name, text)).result()
        names = [executor.submit(partial(lambda t: threading.current_thread().name, t)).result() for t in (big, small)]
        assert names[0].startswith("cortex-tokenizer")
        assert names[1] == threading.current_thread().name
        assert (executor.thread_runs, executor.inline_runs) == (2, 2)
    finally:
        executor.shutdown()


def test_install_is_once_per_process() -> None:
    assert install_tokenizer_executor() is install_tokenizer_executor()
