"""How the embedding service finds CORTEX's embedder: by CORTEX's health, remembered, bounded in time."""

from __future__ import annotations

import asyncio
import time

import pytest

from cortex.models import CortexHealth
from synapse.agent import Agent
from synapse.api import embeddings
from synapse.api.embeddings import EmbeddingService
from synapse.config import SynapseSettings
from synapse.llm import Backends
from tests.synapse.agent.fakes import FakeCortex, ScriptedBackend


class HangingCortex(FakeCortex):
    """A CORTEX whose health never answers (a host that drops packets)."""

    async def health(self) -> CortexHealth:
        await asyncio.sleep(60)
        raise AssertionError("unreachable")


def _service(cortex: FakeCortex) -> EmbeddingService:
    backend = ScriptedBackend()
    return EmbeddingService(Agent(Backends({backend.kind: backend}, [backend.kind]), cortex, SynapseSettings()))


@pytest.mark.asyncio
async def test_the_name_comes_from_cortex_and_outlives_an_outage(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORTEX_EMBEDDER", "use-multilingual")
    cortex = FakeCortex()
    service = _service(cortex)
    assert await service.embedder_name() == "fake"  # what CORTEX's store uses, not this process's setting
    cortex.down = True
    service._next_check = 0.0  # the name is due to be checked again
    assert await service.embedder_name() == "fake"  # the last name seen, while CORTEX is down


@pytest.mark.asyncio
async def test_a_silent_cortex_costs_one_bounded_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORTEX_EMBEDDER", "test-hashing")
    monkeypatch.setattr(embeddings, "HEALTH_TIMEOUT_S", 0.2)
    service = _service(HangingCortex())
    started = time.monotonic()
    assert await service.embedder_name() == "test-hashing"  # CORTEX_EMBEDDER, after the wait
    assert await service.embedder_name() == "test-hashing"  # at once: not asked again within RETRY_S
    assert time.monotonic() - started < 1.0
    model = await service.model()
    assert model.name == "test-hashing" and model.dim is None  # not registered here: no dimension to show
