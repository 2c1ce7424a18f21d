"""Reaching CORTEX: HTTP when a URL is set, and a store that failed to open is tried again in the background."""

from __future__ import annotations

import asyncio

import pytest

from cortex.backend import CortexBackend
from cortex.errors import CortexUnavailableError
from cortex.models import QueryRequest
from synapse.agent import ReopeningCortex, open_cortex
from synapse.config import SynapseSettings
from tests.synapse.agent.fakes import FakeCortex


@pytest.mark.asyncio
async def test_a_failed_open_is_retried_in_the_background() -> None:
    attempts = 0
    healthy = FakeCortex()

    async def opener() -> CortexBackend:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise RuntimeError("embedding worker timeout")
        return healthy

    cortex = ReopeningCortex(opener, "CORTEX could not be opened: first", "fix it", retry_s=0.0)
    with pytest.raises(CortexUnavailableError, match="first"):
        await cortex.query(QueryRequest(query="beam strength"))
    await asyncio.sleep(0.05)  # the background attempt fails
    assert attempts == 1
    with pytest.raises(CortexUnavailableError, match="embedding worker timeout"):
        await cortex.health()
    await asyncio.sleep(0.05)  # the second attempt succeeds
    result = await cortex.query(QueryRequest(query="beam strength"))
    assert attempts == 2 and len(result.sources) == 3 and healthy.queries
    await cortex.aclose()


@pytest.mark.asyncio
async def test_no_retry_before_the_pause() -> None:
    attempts = 0

    async def opener() -> CortexBackend:
        nonlocal attempts
        attempts += 1
        raise RuntimeError("down")

    cortex = ReopeningCortex(opener, "down", "fix it", retry_s=3600)
    for _ in range(3):
        with pytest.raises(CortexUnavailableError):
            await cortex.list_documents()
    assert attempts == 0


@pytest.mark.asyncio
async def test_cortex_url_gives_the_http_client() -> None:
    from cortex import CortexClient

    cortex = await open_cortex(SynapseSettings(cortex_url="http://127.0.0.1:9"))
    assert isinstance(cortex, CortexClient)
    with pytest.raises(CortexUnavailableError):
        await cortex.query(QueryRequest(query="beam strength"))
    await cortex.aclose()
