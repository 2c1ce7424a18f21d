"""The languages the project speaks: the one definition every package uses."""

from __future__ import annotations

from typing import Literal

#: A language of answers, prompts and the TRIZ data.
Lang = Literal["en", "ru"]
#: A language setting or request field: a language, or `auto` to detect it from the text.
LangChoice = Literal["auto", "en", "ru"]
