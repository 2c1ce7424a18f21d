"""MCP servers on test doubles (the lexicon analyzer, FakeCortex), and an in-memory client session."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest
from mcp import ClientSession
from mcp.shared.memory import create_connected_server_and_client_session

from synapse.mcp import SynapseMCP, ToolDeps, build_server
from synapse.triz import Analysis, ContradictionAnalyzer, TrizKnowledge
from tests.synapse.agent.fakes import FakeCortex

T = TypeVar("T")


@pytest.fixture(scope="session")
def lexicon_analyzer(kb: TrizKnowledge) -> ContradictionAnalyzer:
    return ContradictionAnalyzer(kb, embedder=None)


@pytest.fixture
def fake_cortex() -> FakeCortex:
    return FakeCortex()


@pytest.fixture
def server(lexicon_analyzer: ContradictionAnalyzer, fake_cortex: FakeCortex) -> SynapseMCP:
    def analyze(problem: str, lang: str, top: int) -> Analysis:
        return lexicon_analyzer.analyze(problem, lang=lang, top=top)

    return build_server(ToolDeps(analyze=analyze, cortex=lambda: fake_cortex))


def in_memory(server: SynapseMCP, work: Callable[[ClientSession], Awaitable[T]]) -> T:
    """Run `work` with an initialised client session connected to `server` in this process."""

    async def main() -> T:
        async with create_connected_server_and_client_session(server) as session:
            return await work(session)

    return asyncio.run(main())


# The ports this suite's own servers take (the other suites pick theirs elsewhere).
PORTS = range(18400, 18500)


def port_in_range() -> int:
    """A free port from PORTS."""
    for port in PORTS:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {PORTS.start}-{PORTS.stop - 1}")
