"""GET /health: each backend and CORTEX (open without an API key, for load balancers and compose)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from synapse import __version__
from synapse.agent import Agent
from synapse.api.deps import get_agent, get_limiter
from synapse.api.limits import ConcurrencyLimiter
from synapse.api.redact import without_paths
from synapse.llm import BackendHealth

router = APIRouter(tags=["health"])


class QueueState(BaseModel):
    active: int
    queued: int
    max_concurrent: int


class HealthReport(BaseModel):
    """What /health answers, with 200 or 503."""

    status: Literal["ok", "degraded", "down"]
    version: str
    backends: list[BackendHealth]
    cortex: dict[str, Any]
    queue: QueueState


@router.get(
    "/health",
    responses={
        200: {"model": HealthReport, "description": "Some backend answers (`degraded`: not the first, or no CORTEX)."},
        503: {"model": HealthReport, "description": "No backend answers."},
    },
)
async def health(
    agent: Agent = Depends(get_agent),  # noqa: B008
    limiter: ConcurrencyLimiter = Depends(get_limiter),  # noqa: B008
) -> JSONResponse:
    """200 when some backend can answer (`ok` when CORTEX is up too, else `degraded`), 503 otherwise."""
    backends = [h.model_dump() for h in await agent.backends.health()]
    cortex = await agent.cortex_health()
    any_up = any(b["status"] == "ok" for b in backends)
    primary_up = bool(backends) and backends[0]["status"] == "ok"
    status = "ok" if primary_up and cortex.get("status") == "ok" else ("degraded" if any_up else "down")
    body: dict[str, Any] = {
        "status": status,
        "version": __version__,
        "backends": backends,
        "cortex": cortex,
        "queue": {"active": limiter.active, "queued": limiter.queued, "max_concurrent": limiter.max_active},
    }
    return JSONResponse(without_paths(body), status_code=200 if any_up else 503)
