"""The CORTEX HTTP service: one FastAPI app over one Cortex instance."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI

from cortex.api.deps import require_api_key
from cortex.api.errors import error_responses, install_error_handlers
from cortex.api.guard import RequestGuard
from cortex.api.middleware import HeadAsGet, InternalErrors
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
    app.include_router(health.router, responses=error_responses(500))
    # 503: the store, or the Ollama it was configured with, is not ready; the TRIZ core needs neither.
    app.include_router(query.router, dependencies=secured, responses=error_responses(401, 500, 503))
    app.include_router(documents.router, dependencies=secured, responses=error_responses(401, 500, 503))
    app.include_router(triz.router, dependencies=secured, responses=error_responses(401, 500))
    app.include_router(check.router, dependencies=secured, responses=error_responses(401, 500, 503))
    # Added last is outermost: errors catch everything, HEAD turns into GET before the guard sees it.
    app.add_middleware(RequestGuard, settings=settings, open_paths=open_paths(app, settings))
    app.add_middleware(HeadAsGet)
    app.add_middleware(InternalErrors)
    return app


def open_paths(app: FastAPI, settings: CortexSettings) -> frozenset[str]:
    """The paths served without the API key: /health, and the docs with CORTEX_OPEN_DOCS."""
    docs = [app.openapi_url, app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url]
    return frozenset(["/health", *(path for path in docs if path and settings.open_docs)])
