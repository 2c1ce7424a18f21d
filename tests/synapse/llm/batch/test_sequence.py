"""Text assembly of one sequence: stop strings split across tokens, UTF-8 split across tokens."""

from __future__ import annotations

from synapse.llm.batch.sequence import TextOut


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
