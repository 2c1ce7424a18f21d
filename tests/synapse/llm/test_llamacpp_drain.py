"""Queued stream pieces are joined for a consumer that fell behind; the end and errors stay apart."""

from __future__ import annotations

import asyncio

import pytest

from synapse.llm import StreamDelta
from synapse.llm.llamacpp import _drain


@pytest.mark.asyncio
async def test_backlog_is_joined_but_done_and_errors_stay_separate() -> None:
    out: asyncio.Queue[StreamDelta | BaseException] = asyncio.Queue()
    for piece in ("b", "c"):
        out.put_nowait(StreamDelta(content=piece))
    out.put_nowait(StreamDelta(done=True, completion_tokens=3))
    items = _drain(StreamDelta(content="a"), out)
    assert [(i.content, i.done) for i in items if isinstance(i, StreamDelta)] == [("abc", False), ("", True)]
    assert out.empty()

    boom = RuntimeError("worker failed")
    out.put_nowait(StreamDelta(content="y"))
    out.put_nowait(boom)
    items = _drain(StreamDelta(content="x"), out)
    assert items[1] is boom and isinstance(items[0], StreamDelta) and items[0].content == "xy"


@pytest.mark.asyncio
async def test_nothing_queued_leaves_the_piece_alone() -> None:
    out: asyncio.Queue[StreamDelta | BaseException] = asyncio.Queue()
    first = StreamDelta(content="solo")
    assert _drain(first, out) == [first]
