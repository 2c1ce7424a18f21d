"""One sequence's text: stop strings and UTF-8 split across tokens; a slow reader's backlog joined."""

from __future__ import annotations

import asyncio

import pytest

from synapse.llm.batch.sequence import SequenceRequest, SequenceStream, TextOut


def test_a_stop_string_across_tokens_is_held_back_and_cut() -> None:
    out = TextOut(("END",))
    assert out.feed(b"abc E") == ("abc ", False)
    assert out.feed(b"N") == ("", False)
    assert out.feed(b"Dxyz") == ("", True)


def test_a_false_start_of_a_stop_string_is_released() -> None:
    out = TextOut(("END",))
    assert out.feed(b"E") == ("", False)
    assert out.feed(b"Nx") == ("ENx", False)
    assert out.flush() == ""


def test_utf8_split_between_tokens_comes_out_whole() -> None:
    word = "прочность".encode()
    out = TextOut(())
    first, _ = out.feed(word[:3])
    second, _ = out.feed(word[3:])
    assert first + second == "прочность" and "\ufffd" not in first + second


def test_the_earliest_stop_wins_and_flush_returns_the_rest() -> None:
    out = TextOut(("b", "a"))
    assert out.feed(b"xxab") == ("xx", True)
    tail = TextOut(("<|im_end|>",))
    assert tail.feed(b"ok <|im") == ("ok ", False)
    assert tail.flush() == "<|im"


@pytest.mark.asyncio
async def test_a_reader_that_fell_behind_gets_the_backlog_joined_and_then_the_end() -> None:
    stream = SequenceStream(SequenceRequest(prompt=(1,)), asyncio.get_running_loop())
    for piece in ("a", "b", "c"):
        stream.put(piece)
    stream.end("stop")
    await asyncio.sleep(0)  # the engine thread's call_soon_threadsafe callbacks run
    assert [piece async for piece in stream] == ["abc"]
    assert [piece async for piece in stream] == []  # stays ended
    assert stream.finish_reason == "stop"


@pytest.mark.asyncio
async def test_an_error_ends_the_joined_text_and_is_raised_after_it() -> None:
    stream = SequenceStream(SequenceRequest(prompt=(1,)), asyncio.get_running_loop())
    stream.put("x")
    stream.put("y")
    stream.end("error", RuntimeError("decode failed"))
    await asyncio.sleep(0)
    assert await stream.__anext__() == "xy"
    with pytest.raises(RuntimeError, match="decode failed"):
        await stream.__anext__()


@pytest.mark.asyncio
async def test_a_reader_that_keeps_up_gets_each_piece_alone() -> None:
    stream = SequenceStream(SequenceRequest(prompt=(1,)), asyncio.get_running_loop())
    got = []
    for piece in ("one", "two"):
        stream.put(piece)
        got.append(await stream.__anext__())
    assert got == ["one", "two"]
