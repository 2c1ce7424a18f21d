"""Fixtures for connector tests: a scripted backend, a fake CORTEX, a lexicon-only analyzer."""

from __future__ import annotations

import pytest

from synapse.agent import Agent
from synapse.config import SynapseSettings
from synapse.llm import Backends
from synapse.triz import Analysis, ContradictionAnalyzer, TrizKnowledge
from tests.synapse.agent.fakes import FakeCortex, ScriptedBackend


@pytest.fixture(scope="session")
def lexicon_analyzer(kb: TrizKnowledge) -> ContradictionAnalyzer:
    return ContradictionAnalyzer(kb, embedder=None)


@pytest.fixture
def backend() -> ScriptedBackend:
    return ScriptedBackend()


@pytest.fixture
def cortex() -> FakeCortex:
    return FakeCortex()


@pytest.fixture
def make_agent(backend: ScriptedBackend, cortex: FakeCortex, lexicon_analyzer: ContradictionAnalyzer):
    def make(**settings: object) -> Agent:
        s = SynapseSettings(backend="ollama", **settings)  # type: ignore[arg-type]
        backends = Backends({"ollama": backend}, ["ollama"], triz_model=s.triz_model, base_model=s.base_model)

        def analyze(problem: str, lang: str) -> Analysis:
            return lexicon_analyzer.analyze(problem, lang=lang, top=2)

        return Agent(backends, cortex, s, analyzer=analyze)

    return make
