"""`synapse serve`: the SYNAPSE HTTP API (OpenAI and Ollama dialects, MCP), on uvicorn or gunicorn workers."""

from __future__ import annotations

from typing import Annotated

import typer

from synapse.cli.common import reports_errors


@reports_errors
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on (default SYNAPSE_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default SYNAPSE_PORT, 8000).", min=1, max=65535)] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    workers: Annotated[
        int | None,
        typer.Option(help="Worker processes (default SYNAPSE_WORKERS, 1); >1 uses gunicorn (Linux, macOS).", min=1),
    ] = None,
) -> None:
    """Serve the agent API: /v1/chat/completions, /api/chat, /v1/triz/analyze, /health, /docs."""
    import logging

    from synapse.api import create_app
    from synapse.config import CortexSettings, SynapseSettings
    from synapse.serving import Listen, SharedStore, serve_app

    settings = SynapseSettings()
    updates = {k: v for k, v in (("host", host), ("port", port), ("workers", workers)) if v is not None}
    settings = settings.model_copy(update=updates)
    logging.basicConfig(level=log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    # Without SYNAPSE_CORTEX_URL every worker opens the CORTEX store in its own process.
    store = None
    if not settings.cortex_url:
        store = SharedStore(
            CortexSettings(),
            what="SYNAPSE with CORTEX in process (SYNAPSE_CORTEX_URL empty)",
            hint="set SYNAPSE_CORTEX_URL to a CORTEX server (`synapse cortex serve`), "
            "or CORTEX_STORAGE=postgres, or run one worker",
        )
    serve_app(lambda: create_app(settings), Listen(settings.host, settings.port, settings.workers, log_level), store)
