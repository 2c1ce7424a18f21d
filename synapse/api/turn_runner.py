"""One generation under a concurrency slot, shared by the OpenAI and Ollama routes."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import Response

from synapse.agent import Agent, TurnPlan, TurnRequest
from synapse.api.deps import client_of, for_client, reserve_slot
from synapse.api.limits import ConcurrencyLimiter
from synapse.api.streaming import ClientGoneError, GuardedStreamingResponse, unless_disconnected
from synapse.llm.models import ChatResult

# Closed connections have no status of their own; 499 is what proxies log for them.
CLIENT_CLOSED = 499


@dataclass(frozen=True)
class Completed:
    """A finished non-streamed turn: its plan, the answer, and when generation began."""

    plan: TurnPlan
    result: ChatResult
    generation_started: float


@dataclass(frozen=True)
class StreamSpec:
    """How a route streams: the body built from the plan, its media type and extra headers."""

    body: Callable[[TurnPlan], AsyncIterator[bytes]]
    media_type: str
    headers: Mapping[str, str] | None = None


async def run_turn(
    request: Request,
    agent: Agent,
    limiter: ConcurrencyLimiter,
    turn: TurnRequest,
    stream: StreamSpec | None,
) -> Response | Completed:
    """Plan and generate `turn` in a slot (429 when the queue is full); the slot is freed however it ends.

    A streamed turn keeps its slot until the response closes; a client that goes away while queued,
    planning or generating frees it at once.
    """
    client = client_of(request)
    slot = reserve_slot(limiter, client)
    try:

        async def prepare() -> TurnPlan:
            await slot.acquire()
            return await agent.plan(for_client(turn, client))

        plan = await unless_disconnected(request, prepare())
        if stream is not None:
            return GuardedStreamingResponse(
                stream.body(plan),
                media_type=stream.media_type,
                headers=dict(stream.headers or {}),
                on_close=slot.release,
            )
        started = time.perf_counter()
        result = await unless_disconnected(request, agent.complete(plan))
    except ClientGoneError:
        slot.release()
        return Response(status_code=CLIENT_CLOSED)
    except BaseException:
        slot.release()
        raise
    slot.release()
    return Completed(plan, result, started)
