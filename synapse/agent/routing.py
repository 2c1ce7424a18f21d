"""Routing: TRIZ questions to the TRIZ model, other questions to the baseline model."""

from __future__ import annotations

import asyncio
from typing import Literal

import numpy as np

from synapse.embeddings import Embedder, Vectors
from synapse.triz import TrizKnowledge

Route = Literal["triz", "base"]
_GENERIC = {
    "en": [
        "technical contradiction: improving one parameter worsens another",
        "physical contradiction: an element must be both hot and cold",
        "inventive problem solving with TRIZ principles",
        "how to make the design stronger without making it heavier",
    ],
    "ru": [
        "техническое противоречие: улучшение одного параметра ухудшает другой",
        "физическое противоречие: элемент должен быть и горячим, и холодным",
        "решение изобретательской задачи приёмами ТРИЗ",
        "как сделать конструкцию прочнее, не делая её тяжелее",
    ],
}


class TrizRouter:
    """Decides by similarity between the question and the TRIZ knowledge (mean of the best 3 matches)."""

    def __init__(self, embedder: Embedder, kb: TrizKnowledge, threshold: float) -> None:
        self.embedder = embedder
        self.threshold = threshold
        texts: list[str] = []
        for lang in ("en", "ru"):
            texts += _GENERIC[lang]
            texts += [f"{p.name.get(lang)}: {p.description.get(lang)}" for p in kb.principles]
            texts += [f"{q.name.get(lang)}: {q.description.get(lang)}" for q in kb.parameters]
        self._texts = texts
        self._refs: Vectors | None = None

    def _references(self) -> Vectors:
        if self._refs is None:
            self._refs = self.embedder.embed(self._texts)
        return self._refs

    def score(self, question: str) -> float:
        """How close the question is to TRIZ knowledge (cosine, mean of the 3 best)."""
        vec = self.embedder.embed([question])[0]
        sims = self._references() @ vec
        best = np.sort(sims)[-3:]
        return float(best.mean())

    async def decide(self, question: str, *, has_contradiction: bool) -> tuple[Route, float]:
        """`triz` when the analyzer found a contradiction or the similarity reaches the threshold."""
        score = await asyncio.to_thread(self.score, question)
        return ("triz" if has_contradiction or score >= self.threshold else "base"), score
