"""Routing: the `auto` model picks the profile whose knowledge and prompt are closest to the question; with
SYNAPSE_ROUTING, `triz-agent` sends questions far from TRIZ to the baseline (the two-profile case)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from synapse.agent.models import BASE_AGENT
from synapse.agent.profiles import Profile
from synapse.embeddings import Embedder, Vectors
from synapse.triz import TrizKnowledge

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


def triz_texts(kb: TrizKnowledge) -> list[str]:
    """What a TRIZ profile knows: generic contradiction phrasings, the principles and the parameters."""
    texts: list[str] = []
    for lang in ("en", "ru"):
        texts += _GENERIC[lang]
        texts += [f"{p.name.get(lang)}: {p.description.get(lang)}" for p in kb.principles]
        texts += [f"{q.name.get(lang)}: {q.description.get(lang)}" for q in kb.parameters]
    return texts


def profile_texts(profile: Profile, kb: TrizKnowledge) -> list[str]:
    """A profile's own texts: its description and prompts, and the TRIZ knowledge when its role is TRIZ."""
    own = [t for t in (profile.description, *profile.system.values()) if t.strip()]
    return own + (triz_texts(kb) if profile.role == "triz" else [])


class ProfileRouter:
    """Scores a question against each profile (cosine: its texts, and the documents retrieved from its
    collections); below the threshold, the fallback profile answers."""

    def __init__(
        self,
        embedder: Embedder | Callable[[], Embedder],
        kb: TrizKnowledge,
        threshold: float,
        profiles: Mapping[str, Profile],
        *,
        fallback: str = BASE_AGENT,
    ) -> None:
        # A factory is called on first use: a server that never routes never loads the embedding model.
        self._embedder = embedder
        self.threshold = threshold
        self.fallback = fallback
        self._roles = {name: p.role for name, p in profiles.items()}
        self._texts = {name: profile_texts(p, kb) for name, p in profiles.items()}
        self._refs: dict[str, Vectors] = {}

    @property
    def embedder(self) -> Embedder:
        if not isinstance(self._embedder, Embedder):
            self._embedder = self._embedder()
        return self._embedder

    @property
    def candidates(self) -> list[str]:
        """The profiles `auto` chooses among (the fallback answers when none is close enough)."""
        return [name for name in self._texts if name != self.fallback and self._texts[name]]

    def _references(self, name: str) -> Vectors:
        if name not in self._refs:
            self._refs[name] = self.embedder.embed(self._texts[name])
        return self._refs[name]

    def scores(self, question: str, among: Sequence[str], documents: Mapping[str, list[str]]) -> dict[str, float]:
        """Each candidate's closeness to the question: the mean of its 3 best texts, or its best document
        snippet when that is closer (one matching document is evidence enough)."""
        vec = self.embedder.embed([question])[0]
        out: dict[str, float] = {}
        for name in among:
            own = self._references(name) @ vec if self._texts.get(name) else np.zeros(0)
            score = float(np.sort(own)[-3:].mean()) if own.size else -1.0
            docs = documents.get(name) or []
            if docs:
                score = max(score, float((self.embedder.embed(docs) @ vec).max()))
            out[name] = score
        return out

    def pick(
        self, question: str, *, has_contradiction: bool, among: Sequence[str], documents: Mapping[str, list[str]]
    ) -> tuple[str, float]:
        """The closest candidate when it reaches the threshold; else a TRIZ candidate when the analyzer found a
        contradiction; else the fallback. Returns the profile and its score."""
        scores = self.scores(question, among, documents)
        if not scores:
            return self.fallback, -1.0
        best = max(scores, key=lambda n: scores[n])
        if scores[best] >= self.threshold:
            return best, scores[best]
        triz = [n for n in scores if self._roles.get(n) == "triz"]
        if has_contradiction and triz:
            name = max(triz, key=lambda n: scores[n])
            return name, scores[name]
        return self.fallback, scores[best]

    async def decide(
        self,
        question: str,
        *,
        has_contradiction: bool,
        among: Sequence[str] | None = None,
        documents: Mapping[str, list[str]] | None = None,
    ) -> tuple[str, float]:
        """`pick` off the event loop (embedding takes milliseconds to tens of them)."""
        chosen = self.candidates if among is None else list(among)
        return await asyncio.to_thread(
            self.pick, question, has_contradiction=has_contradiction, among=chosen, documents=documents or {}
        )
