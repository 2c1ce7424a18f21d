"""The offline tokenizer: round trip, counts near BPE's, thread safety, LightRAG's deepcopy contract."""

from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor

from cortex.tokenizer import ByteQuadTokenizer, offline_tokenizer

TEXTS = [
    "A lighter bracket that keeps its strength.",
    "Деталь легче, но прочность не теряется — пример из практики.",
    "tabs\tand\nnewlines  and emoji 🙂 and 123,456.78",
    "",
]


def test_round_trip_russian_english_and_symbols() -> None:
    tok = ByteQuadTokenizer()
    for text in TEXTS:
        assert tok.decode(tok.encode(text)) == text


def test_counts_are_in_bpe_range() -> None:
    tok = ByteQuadTokenizer()
    en = "The quick brown fox jumps over the lazy dog near the river bank every morning."
    ru = "Быстрая коричневая лиса прыгает через ленивую собаку у реки каждое утро."
    # BPE tokenizers give roughly 4 Latin or 2-3 Cyrillic characters per token.
    assert len(en) / 6 < len(tok.encode(en)) < len(en) / 2
    assert len(ru) / 4 < len(tok.encode(ru)) < len(ru)


def test_slices_decode_without_raising() -> None:
    tok = ByteQuadTokenizer()
    ids = tok.encode("Прочность и вес")
    for cut in range(len(ids)):
        assert isinstance(tok.decode(ids[:cut]) + tok.decode(ids[cut:]), str)


def test_deepcopy_shares_the_instance_and_threads_agree() -> None:
    wrapper = offline_tokenizer()
    assert copy.deepcopy(wrapper).tokenizer is wrapper.tokenizer
    text = TEXTS[1] * 50
    expected = wrapper.encode(text)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(wrapper.encode, [text] * 32))
    assert all(r == expected for r in results)
