"""The process-wide analyzer built from the settings."""

from __future__ import annotations

from functools import cache

from synapse.config import SynapseSettings
from synapse.embeddings import get_embedder
from synapse.paths import default_cache_dir
from synapse.triz.analyzer import ContradictionAnalyzer
from synapse.triz.models import Analysis


@cache
def default_analyzer() -> ContradictionAnalyzer:
    """One analyzer per process, with the embedder named by SYNAPSE_EMBEDDER ("none" for lexicon only)."""
    settings = SynapseSettings()
    embedder = None if settings.embedder == "none" else get_embedder(settings.embedder)
    return ContradictionAnalyzer(embedder=embedder, cache_dir=default_cache_dir() / "analyzer")


def analyze_problem(problem: str, lang: str = "auto", top: int = 3) -> Analysis:
    """Find the technical contradictions in `problem` with the default analyzer."""
    return default_analyzer().analyze(problem, lang=lang, top=top)
