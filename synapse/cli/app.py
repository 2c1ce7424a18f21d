"""The `synapse` command line: a typer app whose subcommands call library functions."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from synapse import __version__
from synapse.cli import cortex_cmd, profiles_cmd, triz_cmd
from synapse.cli.chat_cmd import chat
from synapse.cli.config_cmd import config
from synapse.cli.eval_cmd import eval_
from synapse.cli.export_cmd import export
from synapse.cli.mcp_cmd import mcp
from synapse.cli.serve_cmd import serve
from synapse.cli.terminal_cmd import terminal
from synapse.cli.up_cmd import up

app = typer.Typer(
    name="synapse",
    help=(
        "TRIZ agent service: TRIZ tools, CORTEX retrieval, the SYNAPSE agent API, the Neuro-Terminal chat "
        "and LoRA export to Ollama. `synapse up` starts the three services; `synapse config` shows the settings."
    ),
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(triz_cmd.app, name="triz")
app.add_typer(cortex_cmd.app, name="cortex")
app.add_typer(profiles_cmd.app, name="profiles")
app.command(name="config")(config)
app.command(name="export")(export)
app.command(name="terminal")(terminal)
app.command(name="up")(up)
app.command(name="serve")(serve)
app.command(name="chat")(chat)
app.command(name="eval")(eval_)
app.command(name="mcp")(mcp)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"synapse {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """TRIZ agent service."""


def main() -> None:
    """Console entry point; makes Russian output safe on consoles that are not UTF-8 (Windows)."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and (stream.encoding or "").lower() not in ("utf-8", "utf8"):
            reconfigure(encoding="utf-8", errors="replace")
    app()
