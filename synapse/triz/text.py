"""Language detection, normalisation, tokenising and stemming for Russian and English text."""

from __future__ import annotations

import re
import threading
from functools import lru_cache

import snowballstemmer

from synapse.lang import Lang

_CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)
_LATIN = re.compile(r"[a-z]", re.IGNORECASE)
_TOKEN = re.compile(r"[0-9a-zа-я]+(?:[-'][0-9a-zа-я]+)*")


def detect_lang(text: str) -> Lang:
    """Russian when Cyrillic letters make up at least a third of the letters, else English."""
    cyr = len(_CYRILLIC.findall(text))
    lat = len(_LATIN.findall(text))
    return "ru" if cyr and cyr * 2 >= lat else "en"


def resolve_lang(text: str, lang: str) -> Lang:
    """The explicit language, or the detected one for "auto"."""
    if lang in ("en", "ru"):
        return lang  # type: ignore[return-value]
    return detect_lang(text)


def normalize(text: str) -> str:
    """Lower case, ё as е, one kind of dash and space."""
    text = text.lower().replace("ё", "е")
    text = re.sub(r"[\u2010-\u2015\u2212]", "-", text)
    return re.sub(r"\s+", " ", text).strip()


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(normalize(text))


_per_thread = threading.local()


def _stemmer(lang: Lang) -> snowballstemmer.Stemmer:
    # Snowball stemmers keep state between calls: sharing one across threads corrupts it (IndexError),
    # and CORTEX's keyword extraction and the analyzer stem on different threads.
    stemmers: dict[str, snowballstemmer.Stemmer] | None = getattr(_per_thread, "stemmers", None)
    if stemmers is None:
        stemmers = _per_thread.stemmers = {}
    if lang not in stemmers:
        stemmers[lang] = snowballstemmer.stemmer("russian" if lang == "ru" else "english")
    return stemmers[lang]


@lru_cache(maxsize=65536)
def stem(token: str) -> str:
    """Snowball stem, choosing the language by the token's own script."""
    lang: Lang = "ru" if _CYRILLIC.search(token) else "en"
    return str(_stemmer(lang).stemWord(token))


def stems(text: str) -> list[str]:
    return [stem(t) for t in tokens(text)]
