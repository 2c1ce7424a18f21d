"""`synapse terminal`: the Neuro-Terminal chat UI (Chainlit), served without opening a browser."""

from __future__ import annotations

from typing import Annotated

import typer

from synapse.cli.common import console, reports_errors


@reports_errors
def terminal(
    port: Annotated[int | None, typer.Option("--port", help="Port (default TERMINAL_PORT, 8501).")] = None,
    host: Annotated[str | None, typer.Option("--host", help="Address to bind (default TERMINAL_HOST).")] = None,
) -> None:
    """Serve the Neuro-Terminal chat (talks to SYNAPSE at TERMINAL_SYNAPSE_URL)."""
    from terminal.launch import load_settings, login_note, run

    settings = load_settings()
    bind_host = host or settings.host
    bind_port = port or settings.port
    console.print(f"Neuro-Terminal on http://{bind_host}:{bind_port} → SYNAPSE {settings.synapse_url}", highlight=False)
    console.print(f"  sign in: {login_note(settings)}", highlight=False)
    run(settings, bind_host, bind_port)
