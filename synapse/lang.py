"""The languages the project speaks: the one definition every package uses."""

from __future__ import annotations

from typing import Literal

#: A language of answers, prompts and the TRIZ data.
Lang = Literal["en", "ru"]
#: A language setting or request field: a language, or `auto` to detect it from the text.
LangChoice = Literal["auto", "en", "ru"]
LANGS: tuple[Lang, ...] = ("en", "ru")


def per_language(texts: dict[str, str], field: str = "system") -> dict[str, str]:
    """Texts keyed by language (a profile's prompts), stripped and without empty ones; a key that is no
    language raises ValueError naming it, for the model validator that calls this."""
    unknown = sorted(set(texts) - set(LANGS))
    if unknown:
        raise ValueError(f"unknown language(s) {', '.join(unknown)} in {field}; use {' and '.join(LANGS)}")
    return {lang: text.strip() for lang, text in texts.items() if text.strip()}
