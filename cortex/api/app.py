"""The CORTEX HTTP service: one FastAPI app over one Cortex instance."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI

from cortex.api.deps import require_api_key
from cortex.api.errors import install_error_handlers
from cortex.api.routers import check, documents, health, query, triz
from cortex.service import Cortex
from synapse import __version__
from synapse.config import CortexSettings
from synapse.embeddings import Embedder


def create_app(
    settings: CortexSettings | None = None, *, embedder: Embedder | None = None, cache_dir: Path | None = None
) -> FastAPI:
    """The app; the Cortex starts with the server (lifespan) on the server's event loop."""
    settings = settings or CortexSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with Cortex(settings, embedder=embedder, cache_dir=cache_dir) as cortex:
            app.state.cortex = cortex
            yield

    app = FastAPI(
        title="CORTEX",
        version=__version__,
        summary="Retrieval of TRIZ knowledge and your documents over LightRAG, without generation.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)
    secured = [Depends(require_api_key)]
    app.include_router(health.router)
    app.include_router(query.router, dependencies=secured)
    app.include_router(documents.router, dependencies=secured)
    app.include_router(triz.router, dependencies=secured)
    app.include_router(check.router, dependencies=secured)
    return app
