"""An offline tokenizer for LightRAG: nothing downloaded, stateless, thread-safe, and fast."""

from __future__ import annotations

from typing import Any

import numpy as np
from lightrag.utils import Tokenizer  # type: ignore[import-untyped]

WIDTH = 4


class ByteQuadTokenizer:
    """One token per four bytes of UTF-8: about four Latin or two Cyrillic characters, like BPE counts.

    LightRAG counts the tokens of whole query contexts on every query, so encoding runs in numpy
    (about 10 ns a token) rather than a Python loop. Decoding a slice that cuts a multi-byte character
    drops that character's fragment at the cut; chunk overlap keeps the character in the neighbour.
    """

    def encode(self, content: str) -> list[int]:
        data = content.encode("utf-8")
        pad = -len(data) % WIDTH
        tokens: list[int] = np.frombuffer(data + b"\0" * pad, dtype=">u4").tolist()
        return tokens

    def decode(self, tokens: list[int]) -> str:
        data = np.asarray(tokens, dtype=">u4").tobytes().rstrip(b"\0")
        return data.decode("utf-8", errors="ignore")

    def __deepcopy__(self, memo: dict[int, Any]) -> ByteQuadTokenizer:
        return self


def offline_tokenizer() -> Tokenizer:
    """The tokenizer every CORTEX LightRAG instance gets instead of tiktoken's downloaded o200k_base."""
    return Tokenizer("cortex-utf8-quads", ByteQuadTokenizer())
