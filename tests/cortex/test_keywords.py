"""Keywords without an LLM: the contradiction the analyzer sees, then the query's own words."""

from __future__ import annotations

from cortex.keywords import extract_keywords


def test_lighter_without_losing_strength_names_the_cell() -> None:
    kw = extract_keywords("How can we make a part lighter without losing strength?")
    assert kw.pairs and kw.pairs[0] == (1, 14)
    assert "Weight of moving object" in kw.low
    assert any("Strength" in k for k in kw.high)


def test_russian_statement() -> None:
    kw = extract_keywords("Как сделать деталь легче без потери прочности?")
    assert (1, 14) in kw.pairs


def test_query_without_contradiction_keeps_its_words() -> None:
    kw = extract_keywords("liquid cooling loop of the server rack")
    assert kw.pairs == []
    assert "server rack" in kw.low and "cooling" in kw.low
    assert kw.high and "cooling" in kw.high[0]
