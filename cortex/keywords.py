"""Keywords for LightRAG's graph modes found without an LLM: TRIZ parameters named in the query, its own words."""

from __future__ import annotations

import itertools
import re
from functools import cache

from pydantic import BaseModel, Field

from synapse.triz import ContradictionAnalyzer, TrizKnowledge, load_knowledge
from synapse.triz.cues import STOPWORDS
from synapse.triz.text import tokens

MAX_LOW = 12


class Keywords(BaseModel):
    """High-level keywords match relations (global mode), low-level ones match entities (local mode)."""

    high: list[str] = Field(default_factory=list)
    low: list[str] = Field(default_factory=list)
    # (improving, worsening) parameter pairs of the contradictions the analyzer found, best first.
    pairs: list[tuple[int, int]] = Field(default_factory=list)

    @property
    def all(self) -> list[str]:
        return list(dict.fromkeys([*self.high, *self.low]))


@cache
def _lexicon_analyzer() -> ContradictionAnalyzer:
    # The lexicon alone takes about a millisecond; the embedding variant would add ~20 ms per query.
    return ContradictionAnalyzer(kb=load_knowledge(), embedder=None)


# "X without losing Y" is how people state a contradiction; the analyzer wants an explicit contrast.
_WITHOUT = re.compile(
    r"\b(?:without|while not)\s+(?:losing|sacrificing|compromising|reducing|hurting|weakening|lowering|"
    r"(?:any\s+)?loss\s+of|(?:a\s+)?drop\s+in|(?:a\s+)?decrease\s+in)\b",
    re.IGNORECASE,
)


def _contrast(query: str) -> str:
    return _WITHOUT.sub(", but it loses", query)


def _query_terms(query: str) -> list[str]:
    words = [t for t in tokens(query) if t not in STOPWORDS and len(t) > 2]
    bigrams = [f"{a} {b}" for a, b in itertools.pairwise(words)]
    return list(dict.fromkeys([*bigrams, *words]))


def extract_keywords(query: str, kb: TrizKnowledge | None = None) -> Keywords:
    """Keywords for `query`: the contradiction the TRIZ analyzer finds in it, then the query's content words."""
    kb = kb or load_knowledge()
    high: list[str] = []
    low: list[str] = []
    pairs: list[tuple[int, int]] = []
    try:
        analysis = _lexicon_analyzer().analyze(_contrast(query), top=2)
    except Exception:  # an unanalysable query (too long, no words) still has its own words
        analysis = None
    for cand in analysis.candidates if analysis else []:
        a, b = kb.parameter(cand.improving.id), kb.parameter(cand.worsening.id)
        pairs.append((a.id, b.id))
        high.append(f"contradiction matrix {a.name.en} {b.name.en}")
        high.append(f"{a.name.ru} {b.name.ru}")
        low += [a.name.en, b.name.en]
        low += [f"principle {p.id} {kb.principle(p.id).name.en}" for p in cand.principles[:4]]
    terms = _query_terms(query)
    if not high:
        words = [t for t in terms if " " not in t]
        high = [" ".join(words[:8]) or query]
    low = list(dict.fromkeys([*low, *terms]))[:MAX_LOW]
    return Keywords(high=list(dict.fromkeys(high)), low=low, pairs=pairs)
