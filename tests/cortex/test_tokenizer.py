"""The offline tokenizer: round trip, counts near BPE's, thread safety, LightRAG's deepcopy contract."""

from __future__ import annotations

import copy
import itertools
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from lightrag.utils import Tokenizer

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


def _spans_text() -> str:
    return "".join(TEXTS[:3]) * 40 + "🙂Ж" * 17


def test_truncation_finds_the_longest_prefix_that_fits() -> None:
    exact, generic = offline_tokenizer(), Tokenizer("generic", ByteQuadTokenizer())
    text = _spans_text()
    for budget in (1, 2, 3, 7, 50, 333, len(exact.encode(text)) - 1, len(exact.encode(text)) + 5):
        span = exact.truncate_by_token_limit(text, budget)
        assert span.start == 0
        assert len(exact.encode(text[: span.end])) == span.token_count <= budget
        if span.end < len(text):  # one more character would not fit
            assert len(exact.encode(text[: span.end + 1])) > budget
        # LightRAG's own search over the same tokenizer never finds a longer prefix.
        assert generic.truncate_by_token_limit(text, budget).end <= span.end
    with pytest.raises(ValueError, match="positive"):
        exact.truncate_by_token_limit(text, 0)


def test_chunking_spans_cover_the_text_with_overlap() -> None:
    tok = offline_tokenizer()
    text = _spans_text()
    spans = tok.split_by_token_limit(text, 64, overlap_tokens=8)
    assert spans[0].start == 0 and spans[-1].end == len(text)
    for before, after in itertools.pairwise(spans):
        assert after.start < before.end < after.end  # overlapping, always advancing
    for span in spans:
        assert len(tok.encode(text[span.start : span.end])) == span.token_count <= 64


def test_lightrag_list_truncation_keeps_whole_items_within_budget() -> None:
    from lightrag.utils import truncate_list_by_token_size

    tok = offline_tokenizer()
    items = [{"entity": f"Принцип {i}", "description": "дробление " * (i % 7)} for i in range(200)]
    kept = truncate_list_by_token_size(items, key=json.dumps, separator="\n", max_token_size=500, tokenizer=tok)
    assert 0 < len(kept) < len(items)
    assert len(tok.encode("\n".join(json.dumps(x) for x in kept))) <= 500
    assert len(tok.encode("\n".join(json.dumps(x) for x in items[: len(kept) + 1]))) > 500


def _list_ids(text: str) -> list[int]:
    """The ids as a plain list, made the straightforward way: four bytes each, the last zero-padded."""
    data = text.encode("utf-8")
    data += b"\0" * (-len(data) % 4)
    return [int.from_bytes(data[i : i + 4], "big") for i in range(0, len(data), 4)]


@pytest.mark.parametrize("text", [*TEXTS, _spans_text()])
def test_lazy_tokens_behave_like_the_list_of_ids(text: str) -> None:
    tok = ByteQuadTokenizer()
    tokens, ids = tok.encode(text), _list_ids(text)
    assert len(tokens) == len(ids) and bool(tokens) == bool(ids)
    assert list(tokens) == ids and tokens == ids and ids == tokens
    assert tokens + [7] == [*ids, 7] and [7] + tokens == [7, *ids]  # noqa: RUF005 - LightRAG may concatenate
    for cut in (0, 1, len(ids) // 2, len(ids) - 1, len(ids), len(ids) + 3, -2):
        assert list(tokens[:cut]) == ids[:cut] and list(tokens[cut:]) == ids[cut:]
        assert tok.decode(tokens[:cut]) == tok.decode(ids[:cut])
    assert list(tokens[::2]) == ids[::2] and list(tokens[::-1]) == ids[::-1]
    if ids:
        assert tokens[0] == ids[0] and tokens[-1] == ids[-1]
    assert tok.decode(tokens) == text == tok.decode(ids)
