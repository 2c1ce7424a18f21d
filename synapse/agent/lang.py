"""The user's language (Russian or English) from the text of a message."""

from __future__ import annotations

from synapse.lang import Lang


def detect_lang(text: str, default: Lang = "en") -> Lang:
    """`ru` when Cyrillic letters outnumber Latin ones, `en` when Latin ones win, `default` without letters."""
    cyr = sum(1 for ch in text if "а" <= ch.lower() <= "я" or ch in "ёЁ")
    lat = sum(1 for ch in text if "a" <= ch.lower() <= "z")
    if cyr == 0 and lat == 0:
        return default
    return "ru" if cyr >= lat else "en"
