"""The SYNAPSE HTTP API: one create_app() for the OpenAI, Ollama and TRIZ routes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext

from fastapi import FastAPI

from synapse import __version__
from synapse.agent import Agent, create_agent
from synapse.api.auth import ApiKeyAuth
from synapse.api.errors import install_error_handlers
from synapse.api.failsafe import CatchAll
from synapse.api.head import HeadAsGet
from synapse.api.limits import BodySizeLimit, ConcurrencyLimiter
from synapse.api.openapi_docs import customize_openapi
from synapse.api.routers import embeddings, health, ollama, openai, triz
from synapse.config import SynapseSettings
from synapse.mcp.http import mount_mcp

log = logging.getLogger("synapse.api")


def create_app(settings: SynapseSettings | None = None, agent: Agent | None = None) -> FastAPI:
    """The app; builds its agent (backends + CORTEX) at startup unless one is given (then it is not closed)."""
    settings = settings or SynapseSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = agent is None
        app.state.agent = agent if agent is not None else await create_agent(settings)
        await app.state.agent.start()
        try:
            async with mcp.running(app.state.agent, settings) if mcp else nullcontext():
                yield
        finally:
            if owned:
                await app.state.agent.aclose()

    app = FastAPI(
        title="SYNAPSE",
        version=__version__,
        description="TRIZ agent API: OpenAI- and Ollama-compatible chat with retrieval from CORTEX.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.limiter = ConcurrencyLimiter(settings.concurrency(), settings.queue_size)
    if agent is not None:
        app.state.agent = agent
    install_error_handlers(app)
    for module in (health, openai, triz, ollama, embeddings):
        app.include_router(module.router)
    mcp = mount_mcp(app) if settings.mcp_http else None
    # Each add wraps the ones before, so the order seen by a request is: HEAD as GET, the catch-all for
    # unexpected errors, the size limit, then keys (a key check never needs the body).
    app.add_middleware(ApiKeyAuth, keys=settings.accepted_keys())
    app.add_middleware(BodySizeLimit, limit=settings.max_body_bytes)
    app.add_middleware(CatchAll)
    app.add_middleware(HeadAsGet)
    customize_openapi(app, settings)
    if not settings.accepted_keys():
        log.warning("SYNAPSE_API_KEYS is empty: the API answers anyone who can reach %s", settings.host)
    return app
