"""The stemmed phrase index built from the parameters' names and synonyms."""

from __future__ import annotations

import pytest

from synapse.triz import ContradictionAnalyzer, TrizKnowledge
from synapse.triz.lexicon import KEY_WORD_QUALITY, build_phrase_index, comparative_bases
from synapse.triz.text import stem


@pytest.mark.parametrize(
    ("word", "base"), [("heavier", "heavy"), ("bigger", "big"), ("wider", "wide"), ("longer", "long")]
)
def test_comparative_bases(word: str, base: str) -> None:
    assert base in comparative_bases(word)


def test_non_comparatives_have_no_base() -> None:
    assert comparative_bases("speed") == []


def test_every_parameter_is_indexed_in_both_languages(kb: TrizKnowledge) -> None:
    index = build_phrase_index(kb)
    assert set(index.text_pids) == set(range(1, 40))
    assert len(index.texts) == len(index.text_pids) > 2000
    assert any(ph.pid == 9 for ph in index.single[stem("скорость")])


def test_key_words_are_russian_and_weaker(kb: TrizKnowledge) -> None:
    index = build_phrase_index(kb)
    keys = [ph for phrases in index.single.values() for ph in phrases if ph.quality == KEY_WORD_QUALITY]
    assert keys
    assert all("а" <= ph.stems[0][0] <= "я" for ph in keys)


def test_a_matched_phrase_owns_its_words() -> None:
    analyzer = ContradictionAnalyzer(embedder=None)
    pairs = [
        (c.improving.id, c.worsening.id)
        for c in analyzer.analyze("The pump is more reliable, but each start takes longer.", top=5).candidates
    ]
    assert pairs[0] == (27, 25)
    assert all(w not in (3, 4) for _, w in pairs)  # "longer" here is time, not length
