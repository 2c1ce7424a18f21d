"""Split a problem statement into what should improve and what gets worse."""

from __future__ import annotations

import re

from pydantic import BaseModel

from synapse.triz.text import normalize

# A contrast marker separates the wish (before) from its price (after). Contrast markers win over
# consequence markers: in "modules make it versatile, but the design is complex" the "but" splits.
_CONTRAST = [
    r",?\s*\bbut\b",
    r"[,;.]?\s*\bhowever\b,?",
    r",\s*\byet\b",
    r"[,;]?\s*\bat the (?:same time|cost of|expense of|price of)\b",
    r"[,;.]?\s*\bunfortunately\b,?",
    r",?\s*\bwhereas\b",
    r",?\s*\bon the other hand\b,?",
    r"[,;]\s*\bwhile\b",
    r";",
    r",?\s*\bно\b",
    r"[,;.]?\s*\bоднако\b,?",
    r",\s*\bа(?:\s+вот)?\b",
    r"[,;]?\s*\bпри этом\b",
    r",?\s*\bхотя\b",
    r",?\s*\bвпрочем\b",
]
_CONSEQUENCE = [
    r",?\s*\b(?:which|this|that|it)\s+(?:leads?|led)\s+to\b",
    r",?\s*\b(?:leads?|led|leading)\s+to\b",
    r",?\s*\b(?:which|this|that|it)?\s*(?:results?|resulting)\s+in\b",
    r",?\s*\b(?:which|this|that)\s+(?:causes?|makes?|means?|increases?|reduces?|lowers?|raises?)\b",
    r",?\s*\b(?:causes?|caused|makes?|made)\b",
    r"[,;]\s*\band\s+(?:so|then|thus|therefore|now)\b",
    r",?\s*\b(?:что|это|и это|а это)?\s*(?:приводит|привело|приведет|ведет|вело)\s+к\b",
    r",?\s*\bв результате\b",
    r",?\s*\bиз-за (?:этого|чего)\b",
    r",?\s*\b(?:что|это|и это)\s+(?:вызывает|увеличивает|снижает|уменьшает|ухудшает|повышает|делает)\b",
    r",?\s*\bвследствие (?:этого|чего)\b",
    r",?\s*\b(?:делает|сделало|делают)\b",
    # ", which complicates ..." / ", что усложняет ...": a relative clause whose verb is the consequence.
    r",\s*which\s+(?=\w+s\b)",
    r",\s*что\s+(?=\w+(?:ет|ит|ят|ют)(?:ся)?\b)",
]
# After these markers the benefit comes second: "X gets worse, but instead Y improves".
_REVERSE = [r",?\s*\bзато\b", r",?\s*\bbut at least\b", r",?\s*\bin return\b"]
# "The higher X, the more Y" / "Чем выше X, тем больше Y"; "If we do X, Y" / "Если X, то Y".
_CORRELATIVE = [
    r"^\s*(?P<a>the\s+\w+(?:er|more|less)\b.*?),\s*(?P<b>the\b.*)$",
    r"^\s*(?P<a>чем\b.*?),\s*(?P<b>тем\b.*)$",
    r"^\s*(?:if|when|whenever|once)\b(?P<a>[^,;]+)[,;]\s*(?:then\s+)?(?P<b>.+)$",
    r"^\s*(?:если|когда|стоит)\b(?P<a>[^,;]+)[,;]\s*(?:то\s+|как\s+)?(?P<b>.+)$",
]
# A goal clause names what the engineer wants; the rest of the wish is the means.
_GOAL = [
    r"\bчтобы\b(?P<g>[^,;]+)",
    r"\bдля того,? чтобы\b(?P<g>[^,;]+)",
    r"\b(?:in order to|so that|so as to)\b(?P<g>[^,;]+)",
    r"^\s*to\b(?P<g>[^,;]+)",
    r"\b(?:we|i|they|you|customers?|users?|engineers?)\s+"
    r"(?:want|need|would like|wish|have|try|aim)\s+(?:to\s+)?(?P<g>[^,;]+)",
    r"\b(?:хотим|хотят|нужно|необходимо|требуется|надо|стремимся)\b(?P<g>[^,;]+)",
]
MEANS_WEIGHT = 0.6


class Part(BaseModel):
    """A piece of a side with its weight (goal clauses count fully, means less)."""

    text: str
    weight: float = 1.0


class Split(BaseModel):
    """The statement cut into its improving and worsening sides; `marker` is None when nothing split it."""

    improving: list[Part]
    worsening: list[Part]
    marker: str | None = None


def _weigh_wish(text: str) -> list[Part]:
    for pattern in _GOAL:
        m = re.search(pattern, text)
        if m and m.group("g").strip():
            goal = m.group("g").strip()
            rest = (text[: m.start()] + " " + text[m.end() :]).strip(" ,;.")
            parts = [Part(text=goal)]
            if len(rest.split()) > 1:
                parts.append(Part(text=rest, weight=MEANS_WEIGHT))
            return parts
    return [Part(text=text)]


def _side(text: str) -> list[Part]:
    text = text.strip(" ,;.")
    return [Part(text=text)] if text else []


def _first_marker(groups: list[tuple[bool, list[str]]], text: str) -> tuple[int, int, bool, str] | None:
    """The earliest marker of the given groups: (start, end, reverses the sides, marker text)."""
    best: tuple[int, int, bool, str] | None = None
    for reverse, patterns in groups:
        for pattern in patterns:
            for m in re.finditer(pattern, text):
                # A marker at the very start of the text splits nothing.
                if m.start() > 3 and (best is None or m.start() < best[0]):
                    best = (m.start(), m.end(), reverse, m.group(0).strip(" ,;."))
                    break
    return best


def split_statement(problem: str) -> Split:
    """Cut a problem statement at its contrast marker ("but", "но", "leads to", "чем..., тем...")."""
    text = normalize(problem)
    best = _first_marker([(False, _CONTRAST), (True, _REVERSE)], text)
    if best is None:
        for pattern in _CORRELATIVE:
            m = re.search(pattern, text)
            if m:
                return Split(improving=_side(m.group("a")), worsening=_side(m.group("b")), marker="correlative")
        best = _first_marker([(False, _CONSEQUENCE)], text)
    if best is None:
        return Split(improving=_weigh_wish(text), worsening=[], marker=None)
    start, end, reverse, marker = best
    before, after = text[:start], text[end:]
    if reverse:
        before, after = after, before
    wish = _weigh_wish(before.strip(" ,;."))
    return Split(improving=wish, worsening=_side(after), marker=marker or ";")
