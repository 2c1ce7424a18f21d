"""`synapse mcp`: the TRIZ tools and CORTEX as Model Context Protocol tools, over stdio."""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer

from synapse.cli.common import reports_errors


@reports_errors
def mcp(
    log_level: Annotated[str, typer.Option(help="Log level of the messages on stderr.")] = "warning",
) -> None:
    """Serve the MCP tools over stdio (for Claude Desktop and other MCP clients): triz_analyze,
    matrix_lookup, principle, search_knowledge, add_document. SYNAPSE serves them at /mcp as well."""
    from synapse.config import SynapseSettings
    from synapse.mcp.stdio import run_stdio

    # stdout carries the protocol: every log line goes to stderr.
    logging.basicConfig(stream=sys.stderr, level=log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    run_stdio(SynapseSettings())
