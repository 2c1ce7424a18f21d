"""`synapse up`: CORTEX, SYNAPSE and the Neuro-Terminal together, with their logs, until Ctrl-C."""

from __future__ import annotations

import threading
import time
from typing import Annotated

import typer
from rich.text import Text

from synapse.cli.common import console, reports_errors

_COLOURS = {"cortex": "cyan", "synapse": "magenta", "terminal": "green"}
_print_lock = threading.Lock()


def _log(name: str, line: str) -> None:
    with _print_lock:
        console.print(
            Text(f"{name:>8} │ ", style=_COLOURS.get(name, "white")) + Text(line), highlight=False, soft_wrap=True
        )


@reports_errors
def up(
    host: Annotated[
        str | None, typer.Option(help="Interface for all three (default TERMINAL_HOST, 127.0.0.1).")
    ] = None,
    cortex_port: Annotated[int | None, typer.Option(help="CORTEX port (default CORTEX_PORT, 8004).")] = None,
    synapse_port: Annotated[int | None, typer.Option(help="SYNAPSE port (default SYNAPSE_PORT, 8000).")] = None,
    terminal_port: Annotated[int | None, typer.Option(help="Terminal port (default TERMINAL_PORT, 8501).")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait until all are healthy.")] = 900.0,
) -> None:
    """Start CORTEX, SYNAPSE and the Neuro-Terminal; stop all on Ctrl-C or when one of them stops."""
    from synapse.stack import Supervisor, default_ports, describe_models, stack_specs
    from terminal.launch import load_settings, login_note

    ports = default_ports()
    updates = {
        k: v
        for k, v in (("host", host), ("cortex", cortex_port), ("synapse", synapse_port), ("terminal", terminal_port))
        if v is not None
    }
    ports = ports.model_copy(update=updates)
    terminal_settings = load_settings()
    specs = stack_specs(ports)
    started = time.monotonic()
    console.print(f"starting cortex :{ports.cortex}, synapse :{ports.synapse}, terminal :{ports.terminal} …")

    def ready(supervisor: Supervisor) -> None:
        health = {r.spec.name: r.health for r in supervisor.running}
        facts = describe_models(health.get("synapse", {}), health.get("cortex", {}))
        urls = {r.spec.name: r.spec.url for r in supervisor.running}
        with _print_lock:
            console.print(f"\n[bold green]ready in {time.monotonic() - started:.0f} s[/]")
            console.print(
                f"  Neuro-Terminal  {urls['terminal']}   ({login_note(terminal_settings)})",
                highlight=False,
                soft_wrap=True,
            )
            console.print(f"  SYNAPSE API     {urls['synapse']}/v1   (OpenAI-compatible; /docs)", highlight=False)
            console.print(f"  CORTEX          {urls['cortex']}", highlight=False)
            console.print(f"  model           {facts['model']}", highlight=False)
            console.print(f"  embedder        {facts['embedder']}", highlight=False)
            console.print("  Ctrl-C stops all three.\n")

    code = Supervisor(specs, _log).run(timeout, on_ready=ready)
    console.print("stopped")
    raise typer.Exit(code)
