"""The MCP server of SYNAPSE: the TRIZ tools and CORTEX, with errors that say what to fix."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import anyio
from mcp.server.fastmcp import FastMCP
from mcp.server.fastmcp.exceptions import ToolError
from mcp.server.stdio import stdio_server
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import ContentBlock, ToolAnnotations
from pydantic import ValidationError

from synapse.errors import SynapseError, describe_invalid
from synapse.mcp.tools import ToolDeps, TrizTools

log = logging.getLogger("synapse.mcp")

INSTRUCTIONS = (
    "TRIZ tools (the theory of inventive problem solving) and the CORTEX knowledge base, in English and Russian. "
    "Start with triz_analyze on the user's problem; matrix_lookup and principle give the matrix and the "
    "principles' texts; search_knowledge finds TRIZ knowledge and the user's documents; add_document stores one."
)
READ_ONLY = ToolAnnotations(readOnlyHint=True, destructiveHint=False, idempotentHint=True, openWorldHint=False)
WRITES = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=False, openWorldHint=False)


def error_text(tool: str, exc: BaseException) -> str:
    """What the client reads for a failed call: the problem and its fix, never a traceback."""
    cause = exc.__cause__ if isinstance(exc, ToolError) and exc.__cause__ is not None else exc
    if isinstance(cause, SynapseError):
        return f"{cause.message}. Fix: {cause.hint}" if cause.hint else cause.message
    if isinstance(cause, ValidationError):
        return f"invalid arguments for {tool}: {describe_invalid(cause.errors())}. Fix: follow the tool's input schema"
    if cause is exc and isinstance(exc, ToolError):
        return str(exc)  # the SDK's own, e.g. "Unknown tool: x"
    error_id = uuid.uuid4().hex[:12]
    log.error("internal error %s in MCP tool %s", error_id, tool, exc_info=cause)
    return f"internal error in {tool} (id {error_id}); the server log has the details under that id"


class SynapseMCP(FastMCP[Any]):
    """FastMCP whose failed tool calls answer with the message and the fix of the error behind them."""

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> Sequence[ContentBlock] | dict[str, Any]:
        try:
            return await super().call_tool(name, arguments)
        except Exception as exc:
            raise ToolError(error_text(name, exc)) from None

    async def serve_stdio(self, stdin: anyio.AsyncFile[str], stdout: anyio.AsyncFile[str]) -> None:
        """Serve one client on these streams (the stdio transport on streams of the caller's choice)."""
        async with stdio_server(stdin, stdout) as (read_stream, write_stream):
            await self._mcp_server.run(read_stream, write_stream, self._mcp_server.create_initialization_options())


@contextmanager
def _root_logging_kept() -> Iterator[None]:
    # FastMCP calls logging.basicConfig(); the host process (SYNAPSE, a test) owns its logging setup.
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def build_server(deps: ToolDeps, *, stateless_http: bool = False, allowed_hosts: Sequence[str] = ()) -> SynapseMCP:
    """The server with its five tools; `allowed_hosts` (host:port patterns) turns DNS-rebinding checks on."""
    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=bool(allowed_hosts),
        allowed_hosts=list(allowed_hosts),
        allowed_origins=[f"http://{host}" for host in allowed_hosts],
    )
    with _root_logging_kept():
        server = SynapseMCP(
            "synapse-triz",
            instructions=INSTRUCTIONS,
            stateless_http=stateless_http,
            json_response=stateless_http,
            streamable_http_path="/mcp",
            transport_security=security,
        )
    tools = TrizTools(deps)
    server.add_tool(tools.triz_analyze, title="TRIZ: analyze a problem", annotations=READ_ONLY)
    server.add_tool(tools.matrix_lookup, title="TRIZ: contradiction matrix", annotations=READ_ONLY)
    server.add_tool(tools.principle, title="TRIZ: inventive principle", annotations=READ_ONLY)
    server.add_tool(tools.search_knowledge, title="CORTEX: search the knowledge base", annotations=READ_ONLY)
    server.add_tool(tools.add_document, title="CORTEX: add a document", annotations=WRITES)
    return server
