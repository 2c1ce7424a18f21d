"""FastAPI dependencies: the agent, the settings, the limiter, and a reserved generation slot.

The dependencies are coroutines: FastAPI runs a plain `def` one in its thread pool, a hand-off per request.
"""

from __future__ import annotations

import hashlib

from fastapi import Request

from synapse.agent import Agent, TurnRequest
from synapse.api.errors import ApiError
from synapse.api.limits import BusyError, ConcurrencyLimiter, Slot
from synapse.config import SynapseSettings
from synapse.keys import presented_keys


async def get_agent(request: Request) -> Agent:
    agent: Agent = request.app.state.agent
    return agent


async def get_settings(request: Request) -> SynapseSettings:
    settings: SynapseSettings = request.app.state.settings
    return settings


async def get_limiter(request: Request) -> ConcurrencyLimiter:
    limiter: ConcurrencyLimiter = request.app.state.limiter
    return limiter


def client_of(request: Request) -> str:
    """Who asks, for fair scheduling: the API key presented (as a short hash, never the key), else the address."""
    keys = presented_keys(request.headers)
    if keys:
        return "key:" + hashlib.sha256(keys[0].encode("utf-8")).hexdigest()[:16]
    return "addr:" + (request.client.host if request.client else "unknown")


def for_client(turn: TurnRequest, client: str) -> TurnRequest:
    """`turn` with its generation marked as `client`'s (the backend schedules by it too)."""
    return turn.model_copy(update={"options": turn.options.model_copy(update={"client": client})})


def reserve_slot(limiter: ConcurrencyLimiter, client: str = "") -> Slot:
    """A queued place for one generation, or 429 with Retry-After when the queue is full.

    Called inside the route (not as a dependency) so that a request failing validation never holds a place.
    """
    try:
        return limiter.reserve(client)
    except BusyError as exc:
        raise ApiError(
            429,
            f"{exc} ({limiter.active} running, {limiter.queued} waiting; the limits are SYNAPSE_MAX_CONCURRENT "
            f"and SYNAPSE_QUEUE_SIZE)",
            "server_busy",
            headers={"Retry-After": str(exc.retry_after)},
        ) from None
