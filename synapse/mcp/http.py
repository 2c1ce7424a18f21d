"""Streamable HTTP at SYNAPSE's /mcp: the route, and the session manager that SYNAPSE's lifespan runs."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from synapse.agent import Agent
from synapse.config import SynapseSettings
from synapse.mcp.server import build_server
from synapse.mcp.tools import ToolDeps
from synapse.triz import Analysis, analyze_problem

MCP_PATH = "/mcp"
_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


def allowed_hosts(settings: SynapseSettings) -> list[str]:
    """Host headers /mcp accepts: any when keys guard SYNAPSE or it listens beyond this machine.

    An open SYNAPSE on a loopback address is what a web page could reach through DNS rebinding: only the
    loopback names pass then (the MCP specification asks servers to check Host for this reason).
    """
    if settings.accepted_keys() or not _loopback(settings.host):
        return []
    return [f"{name}:*" for name in _LOOPBACK_NAMES]


def agent_deps(agent: Agent) -> ToolDeps:
    """The tools on the app's agent: its analyzer (the default one when it has none) and its CORTEX."""

    def analyze(problem: str, lang: str, top: int) -> Analysis:
        found = agent.analyze_now(problem, lang, top)
        return found if found is not None else analyze_problem(problem, lang=lang, top=top)

    return ToolDeps(analyze=analyze, cortex=lambda: agent.cortex)


class McpEndpoint:
    """The ASGI endpoint of /mcp; it forwards to the session manager of the running app."""

    def __init__(self) -> None:
        self.manager: StreamableHTTPSessionManager | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.manager is None:
            raise RuntimeError("the MCP session manager is not running (the app's lifespan has not started)")
        await self.manager.handle_request(scope, receive, send)

    @asynccontextmanager
    async def running(self, agent: Agent, settings: SynapseSettings) -> AsyncIterator[None]:
        """Serve /mcp while the app runs: a fresh manager each time (one can run only once)."""
        # Stateless: every request stands alone, so any of several workers can answer it.
        server = build_server(agent_deps(agent), stateless_http=True, allowed_hosts=allowed_hosts(settings))
        server.streamable_http_app()  # creates the session manager
        async with server.session_manager.run():
            self.manager = server.session_manager
            try:
                yield
            finally:
                self.manager = None


def mount_mcp(app: FastAPI) -> McpEndpoint:
    """Route /mcp (every method) to a new endpoint; the caller runs `endpoint.running()` in its lifespan."""
    endpoint = McpEndpoint()
    # A plain Starlette route: FastAPI would wrap an endpoint in its request/response handling.
    app.router.routes.append(Route(MCP_PATH, endpoint=endpoint))
    return endpoint
