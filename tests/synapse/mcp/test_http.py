"""/mcp in SYNAPSE on uvicorn: the SDK's streamable HTTP client, behind the same API keys as every route."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.types import TextContent

from synapse.api import create_app
from synapse.config import SynapseSettings
from synapse.mcp.http import allowed_hosts
from synapse.triz import ContradictionAnalyzer
from tests.synapse.agent.fakes import FakeCortex, ScriptedBackend
from tests.synapse.api.conftest import LiveServer, make_agent_for

KEY = "mcp-key-1"
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
ACCEPT = {"Accept": "application/json, text/event-stream"}


def start(analyzer: ContradictionAnalyzer, cortex: FakeCortex | None = None, **settings: Any) -> LiveServer:
    backend = ScriptedBackend()
    s = SynapseSettings(backend=backend.kind, **settings)
    agent = make_agent_for(backend, cortex or FakeCortex(), analyzer, s)
    return LiveServer(create_app(s, agent=agent)).__enter__()


@pytest.fixture
def keyed(lexicon_analyzer: ContradictionAnalyzer) -> Iterator[LiveServer]:
    server = start(lexicon_analyzer, api_keys=f"other,{KEY}")
    yield server
    server.__exit__()


async def _session_run(url: str, headers: dict[str, str]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    async with (
        httpx.AsyncClient(headers=headers, timeout=30) as http,
        streamable_http_client(f"{url}/mcp", http_client=http) as (read, write, _),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        seen["tools"] = [tool.name for tool in (await session.list_tools()).tools]
        seen["analysis"] = (
            await session.call_tool("triz_analyze", {"problem": "The beam must be stronger, but it gets heavier"})
        ).structuredContent
        seen["search"] = (await session.call_tool("search_knowledge", {"query": "light beams"})).structuredContent
        wrong = await session.call_tool("principle", {"n": 41})
        first = wrong.content[0]
        seen["principle_41"] = (wrong.isError, first.text if isinstance(first, TextContent) else "")
    return seen


@pytest.mark.parametrize("header", ["Authorization", "X-API-Key"])
def test_the_sdk_client_works_with_a_key(keyed: LiveServer, header: str) -> None:
    value = f"Bearer {KEY}" if header == "Authorization" else KEY
    seen = asyncio.run(_session_run(keyed.url, {header: value}))
    assert seen["tools"] == ["triz_analyze", "matrix_lookup", "principle", "search_knowledge", "add_document"]
    assert seen["analysis"]["lang"] == "en" and seen["analysis"]["contradictions"][0]["improving"]["id"] == 14
    assert [s["id"] for s in seen["search"]["sources"]] == ["triz:principle:1", "doc:1", "triz:principle:40"]
    assert seen["principle_41"] == (True, "unknown TRIZ principle: '41'. Fix: use a number from 1 to 40")


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "wrong"}, {"Authorization": "Bearer wrong"}])
def test_without_a_valid_key_401(keyed: LiveServer, headers: dict[str, str]) -> None:
    for method in ("POST", "GET", "DELETE"):
        r = httpx.request(method, f"{keyed.url}/mcp", json=INIT, headers={**ACCEPT, **headers}, timeout=10)
        assert r.status_code == 401, (method, r.text)
        assert r.headers["www-authenticate"] == "Bearer"
        assert "SYNAPSE_API_KEYS" in r.json()["error"]["message"]


def test_the_sdk_client_without_a_key_fails(keyed: LiveServer) -> None:
    with pytest.raises(BaseException) as caught:
        asyncio.run(_session_run(keyed.url, {}))
    assert "401 Unauthorized" in repr(caught.value)


def test_a_call_the_body_limit_covers(lexicon_analyzer: ContradictionAnalyzer) -> None:
    server = start(lexicon_analyzer, max_body_bytes=2048)
    try:
        body = {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "x", "arguments": {"t": "x" * 4096}},
        }
        r = httpx.post(f"{server.url}/mcp", json=body, headers=ACCEPT, timeout=10)
        assert r.status_code == 413
    finally:
        server.__exit__()


def test_the_mount_can_be_turned_off(lexicon_analyzer: ContradictionAnalyzer) -> None:
    server = start(lexicon_analyzer, api_keys=KEY, mcp_http=False)
    try:
        r = httpx.post(f"{server.url}/mcp", json=INIT, headers={**ACCEPT, "X-API-Key": KEY}, timeout=10)
        assert r.status_code == 404
    finally:
        server.__exit__()


def test_an_open_loopback_server_refuses_foreign_host_headers(lexicon_analyzer: ContradictionAnalyzer) -> None:
    server = start(lexicon_analyzer)  # no keys, 127.0.0.1: what DNS rebinding could reach
    try:
        ok = httpx.post(f"{server.url}/mcp", json=INIT, headers=ACCEPT, timeout=10)
        assert ok.status_code == 200 and ok.json()["result"]["serverInfo"]["name"] == "synapse-triz"
        rebound = httpx.post(
            f"{server.url}/mcp", json=INIT, headers={**ACCEPT, "Host": f"evil.example:{server.port}"}, timeout=10
        )
        assert rebound.status_code == 421
    finally:
        server.__exit__()


def test_allowed_hosts() -> None:
    assert allowed_hosts(SynapseSettings()) == ["localhost:*", "127.0.0.1:*", "[::1]:*"]
    assert allowed_hosts(SynapseSettings(host="::1")) != []
    assert allowed_hosts(SynapseSettings(api_keys="k")) == []
    assert allowed_hosts(SynapseSettings(host="0.0.0.0")) == []
