"""`synapse serve`: the SYNAPSE HTTP API (OpenAI and Ollama dialects) on uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from synapse.cli.common import reports_errors


@reports_errors
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on (default SYNAPSE_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default SYNAPSE_PORT, 8000).", min=1, max=65535)] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve the agent API: /v1/chat/completions, /api/chat, /v1/triz/analyze, /health, /docs."""
    import logging

    import uvicorn

    from synapse.api import create_app
    from synapse.config import SynapseSettings

    settings = SynapseSettings()
    updates = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    settings = settings.model_copy(update=updates)
    logging.basicConfig(level=log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level=log_level)
