"""An offline tokenizer for LightRAG: nothing downloaded, stateless, thread-safe, and fast."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, overload

import numpy as np
from lightrag.utils import TokenBudgetError, Tokenizer, TokenSpan  # type: ignore[import-untyped]

WIDTH = 4


class QuadTokens(Sequence[int]):
    """A text's token ids, made only when read: LightRAG mostly asks how many there are.

    LightRAG counts tokens as `len(tokenizer.encode(text))`, for every entity and relation it puts in a
    graph query's context. Building those lists of ints only to take their length was a tenth of a
    hybrid query. The count comes from the UTF-8 length. Indexing, iteration, `==` and `+` give what
    the list would. A slice stays lazy.
    """

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data  # the UTF-8 bytes; token i is bytes 4i..4i+3, the last one zero-padded

    def __len__(self) -> int:
        return _quads(len(self.data))

    def ids(self) -> list[int]:
        pad = -len(self.data) % WIDTH
        ids: list[int] = np.frombuffer(self.data + b"\0" * pad, dtype=">u4").tolist()
        return ids

    @overload
    def __getitem__(self, index: int) -> int: ...

    @overload
    def __getitem__(self, index: slice) -> QuadTokens: ...

    def __getitem__(self, index: int | slice) -> int | QuadTokens:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step == 1:
                return QuadTokens(self.data[start * WIDTH : max(start, stop) * WIDTH])
            return QuadTokens(
                b"".join(self.data[i * WIDTH : (i + 1) * WIDTH].ljust(WIDTH, b"\0") for i in range(start, stop, step))
            )
        return self.ids()[index]

    def __iter__(self) -> Iterator[int]:
        return iter(self.ids())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, QuadTokens):
            return self.ids() == other.ids()
        if isinstance(other, Sequence) and not isinstance(other, (str, bytes)):
            return self.ids() == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # a list is not hashable either

    def __add__(self, other: Sequence[int]) -> list[int]:
        return self.ids() + list(other)

    def __radd__(self, other: Sequence[int]) -> list[int]:
        return list(other) + self.ids()

    def __repr__(self) -> str:
        return f"QuadTokens({len(self)} tokens)"


class ByteQuadTokenizer:
    """One token per four bytes of UTF-8: about four Latin or two Cyrillic characters, like BPE counts.

    LightRAG counts the tokens of whole query contexts on every query, so counting costs nothing
    (`QuadTokens`) and ids are made in numpy (about 10 ns a token) when something reads them.
    Decoding a slice that cuts a multi-byte character drops that character's fragment at the cut;
    chunk overlap keeps the character in the neighbour.
    """

    def encode(self, content: str) -> QuadTokens:
        return QuadTokens(content.encode("utf-8"))

    def decode(self, tokens: Sequence[int]) -> str:
        if isinstance(tokens, QuadTokens):
            data = tokens.data.rstrip(b"\0")
        else:
            data = np.asarray(tokens, dtype=">u4").tobytes().rstrip(b"\0")
        return data.decode("utf-8", errors="ignore")

    def __deepcopy__(self, memo: dict[int, Any]) -> ByteQuadTokenizer:
        return self


def _quads(byte_count: int) -> int:
    return -(-byte_count // WIDTH)


class ByteQuadSpans(Tokenizer):  # type: ignore[misc]
    """LightRAG's tokenizer wrapper with exact spans: a prefix's token count is its UTF-8 length over four.

    LightRAG cuts query contexts and documents with a search that re-encodes ever shorter prefixes, which
    any tokenizer satisfies (BPE counts are not monotonic in length); for byte quads the longest prefix
    that fits is known at once. That search was a quarter of a hybrid query's CPU time.
    """

    def _span_from(self, content: str, start: int, max_tokens: int) -> TokenSpan:
        data = content[start:].encode("utf-8")
        budget = max_tokens * WIDTH
        if len(data) <= budget:
            return TokenSpan(start, len(content), _quads(len(data)))
        # A cut inside a multi-byte character drops that character: the prefix ends before it.
        prefix = data[:budget].decode("utf-8", errors="ignore")
        if not prefix:
            raise TokenBudgetError(max_tokens, _quads(len(content[start].encode("utf-8"))), content[start : start + 80])
        return TokenSpan(start, start + len(prefix), _quads(len(prefix.encode("utf-8"))))

    def _bounded_prefix_span(self, content: str, start: int, max_tokens: int, chars_per_token: float) -> TokenSpan:
        return self._span_from(content, start, max_tokens)

    def truncate_by_token_limit(self, content: str, max_tokens: int) -> TokenSpan:
        if max_tokens <= 0:
            raise ValueError(f"max_tokens must be positive, got {max_tokens}")
        return self._span_from(content, 0, max_tokens)

    def __deepcopy__(self, memo: dict[int, Any]) -> ByteQuadSpans:
        return self


def offline_tokenizer() -> Tokenizer:
    """The tokenizer every CORTEX LightRAG instance gets instead of tiktoken's downloaded o200k_base."""
    return ByteQuadSpans("cortex-utf8-quads", ByteQuadTokenizer())
