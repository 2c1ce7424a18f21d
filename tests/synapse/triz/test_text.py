"""Stemming is safe to call from several threads at once (CORTEX and the analyzer do)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from synapse.triz import text

WORDS = [
    "прочность",
    "увеличивающийся",
    "взаимодействующими",
    "производительности",
    "надёжность",
    "strengthening",
    "manufacturability",
    "reliabilities",
    "conditionally",
    "generalizations",
]


def _stem_all(words: list[str]) -> list[str]:
    raw_stem = text.stem.__wrapped__  # past the cache, so every call runs the stemmer
    return [raw_stem(w) for w in words]


def test_stems_agree_across_threads() -> None:
    words = WORDS * 300
    expected = _stem_all(WORDS) * 300
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(_stem_all, [words] * 12))
    assert all(r == expected for r in results)
