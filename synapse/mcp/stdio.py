"""`synapse mcp`: the MCP server over stdio for desktop agents; stdout carries the protocol and nothing else."""

from __future__ import annotations

import io
import os
import sys
from typing import TextIO

import anyio

from cortex.client import CortexClient
from synapse.config import CortexSettings, SynapseSettings
from synapse.mcp.server import build_server
from synapse.mcp.tools import ToolDeps
from synapse.triz import Analysis, analyze_problem


def cortex_url(settings: SynapseSettings) -> str:
    """SYNAPSE_CORTEX_URL, or the CORTEX server that `synapse cortex serve` starts by default."""
    if settings.cortex_url:
        return settings.cortex_url
    cortex = CortexSettings()
    host = "127.0.0.1" if cortex.host in ("0.0.0.0", "::", "") else cortex.host
    return f"http://{f'[{host}]' if ':' in host else host}:{cortex.port}"


class CortexLink:
    """One CortexClient, made on first use and closed with the server."""

    def __init__(self, settings: SynapseSettings) -> None:
        self.settings = settings
        self._client: CortexClient | None = None

    def __call__(self) -> CortexClient:
        if self._client is None:
            # One .env for both services: CORTEX's own key serves when SYNAPSE has none of its own.
            key = self.settings.cortex_api_key.get_secret_value() or CortexSettings().api_key.get_secret_value()
            self._client = CortexClient(cortex_url(self.settings), api_key=key)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()


def _analyze(problem: str, lang: str, top: int) -> Analysis:
    return analyze_problem(problem, lang=lang, top=top)


def protocol_stdout() -> TextIO:
    """The process's stdout for the protocol alone: stray prints (Python's or a C library's) go to stderr."""
    sys.stdout.flush()
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    return io.TextIOWrapper(protocol, encoding="utf-8", newline="\n", write_through=True)


def run_stdio(settings: SynapseSettings | None = None) -> None:
    """Serve the MCP tools on stdin/stdout until the client closes stdin."""
    settings = settings or SynapseSettings()
    link = CortexLink(settings)
    server = build_server(ToolDeps(analyze=_analyze, cortex=link))
    stdout = protocol_stdout()
    stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")

    async def main() -> None:
        try:
            await server.serve_stdio(anyio.wrap_file(stdin), anyio.wrap_file(stdout))
        finally:
            await link.aclose()

    anyio.run(main)
