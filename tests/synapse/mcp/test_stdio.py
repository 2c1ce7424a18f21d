"""`synapse mcp` as a desktop agent starts it: a subprocess on stdio, CORTEX a real server on uvicorn."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from cortex.api import create_app
from synapse.config import CortexSettings, SynapseSettings
from synapse.mcp.stdio import cortex_url as stdio_cortex_url
from tests.conftest import HashingEmbedder
from tests.synapse.mcp.conftest import port_in_range

CORTEX_KEY = "cortex-key-5"
SYNAPSE = str(Path(sys.executable).with_name("synapse"))


@pytest.fixture
def cortex_url(tmp_path: Path) -> Iterator[str]:
    """CORTEX on uvicorn (fake embedder, an API key) in this process."""
    settings = CortexSettings(data_dir=tmp_path / "cortex", api_key=CORTEX_KEY, chunk_tokens=100)  # type: ignore[arg-type]
    app = create_app(settings, embedder=HashingEmbedder(), cache_dir=tmp_path / "cortex-cache")
    port = port_in_range()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "CORTEX did not start"
            time.sleep(0.05)
        yield url
    finally:
        server.should_exit = True
        thread.join(60)


def server_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    # A user's environment plus their settings; a data dir of its own (XDG_* come from isolated_env).
    return {**os.environ, "SYNAPSE_EMBEDDER": "none", "SYNAPSE_DATA_DIR": str(tmp_path / "synapse"), **extra}


async def _session_run(params: StdioServerParameters, cortex_url: str) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        seen["tools"] = [tool.name for tool in (await session.list_tools()).tools]
        analysis = await session.call_tool("triz_analyze", {"problem": "Балка должна быть прочнее, но тяжелеет"})
        seen["analysis"] = analysis.structuredContent
        added = await session.call_tool(
            "add_document", {"name": "beams", "text": "Hollow beams are light and stiff.", "tags": ["beams"]}
        )
        assert added.structuredContent is not None, added.content
        doc_id = added.structuredContent["id"]
        async with httpx.AsyncClient(headers={"X-API-Key": CORTEX_KEY}) as http:
            for _ in range(600):
                doc = (await http.get(f"{cortex_url}/documents/{doc_id}")).json()
                if doc["status"] in ("processed", "failed"):
                    break
                await asyncio.sleep(0.05)
        seen["doc"] = doc
        found = await session.call_tool("search_knowledge", {"query": "hollow beams light", "mode": "naive"})
        seen["search"] = found.structuredContent
        wrong = await session.call_tool("principle", {"n": 41})
        seen["principle_41"] = (wrong.isError, wrong.content[0].text if wrong.content else "")  # type: ignore[union-attr]
    return seen


def test_stdio_lists_the_tools_analyzes_and_searches_cortex(tmp_path: Path, cortex_url: str) -> None:
    # CORTEX's own key reaches it: one .env for both services.
    env = server_env(tmp_path, SYNAPSE_CORTEX_URL=cortex_url, CORTEX_API_KEY=CORTEX_KEY)
    params = StdioServerParameters(command=SYNAPSE, args=["mcp"], env=env, cwd=str(tmp_path))
    seen = asyncio.run(_session_run(params, cortex_url))
    assert seen["tools"] == ["triz_analyze", "matrix_lookup", "principle", "search_knowledge", "add_document"]
    assert seen["analysis"]["lang"] == "ru"
    assert seen["analysis"]["contradictions"][0]["improving"]["id"] == 14
    assert seen["doc"]["status"] == "processed" and seen["doc"]["tags"] == ["beams"]
    docs = [s for s in seen["search"]["sources"] if s["kind"] == "document"]
    assert docs and docs[0]["document"] == "beams.md" and "Hollow beams" in docs[0]["snippet"]
    assert seen["principle_41"] == (True, "unknown TRIZ principle: '41'. Fix: use a number from 1 to 40")


def _send(proc: subprocess.Popen[bytes], message: dict[str, Any]) -> None:
    assert proc.stdin is not None
    proc.stdin.write(json.dumps({"jsonrpc": "2.0", **message}).encode() + b"\n")
    proc.stdin.flush()


def test_stdout_carries_only_the_protocol_and_stdin_eof_ends_the_server(tmp_path: Path) -> None:
    env = server_env(tmp_path, SYNAPSE_CORTEX_URL=f"http://127.0.0.1:{port_in_range()}")  # nothing listens
    proc = subprocess.Popen(
        [SYNAPSE, "mcp", "--log-level", "debug"],
        env=env,
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        init = {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}
        _send(proc, {"id": 1, "method": "initialize", "params": init})
        _send(proc, {"method": "notifications/initialized"})
        _send(
            proc,
            {"id": 2, "method": "tools/call", "params": {"name": "search_knowledge", "arguments": {"query": "beams"}}},
        )
        assert proc.stdout is not None
        replies = [json.loads(proc.stdout.readline()) for _ in range(2)]
        assert proc.stdin is not None
        proc.stdin.close()
        assert proc.wait(60) == 0
        rest = proc.stdout.read()
        stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
    assert [r["id"] for r in replies] == [1, 2]
    assert replies[0]["result"]["serverInfo"]["name"] == "synapse-triz"
    assert replies[1]["result"]["isError"] is True
    assert "CORTEX is not reachable" in replies[1]["result"]["content"][0]["text"]
    assert all(json.loads(line)["jsonrpc"] == "2.0" for line in rest.splitlines() if line.strip())
    assert "CallToolRequest" in stderr  # the SDK's debug log went to stderr
    assert "Traceback" not in stderr


def test_stray_writes_to_stdout_go_to_stderr(tmp_path: Path) -> None:
    code = (
        "import os, sys\n"
        "from synapse.mcp.stdio import protocol_stdout\n"
        "out = protocol_stdout()\n"
        "print('stray print')\n"
        "os.write(1, b'c-level write\\n')\n"
        'out.write(\'{"jsonrpc": "2.0"}\\n\')\n'
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout == '{"jsonrpc": "2.0"}\n'
    assert "stray print" in done.stderr and "c-level write" in done.stderr


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"SYNAPSE_CORTEX_URL": "http://cortex:8004"}, "http://cortex:8004"),
        ({}, "http://127.0.0.1:8004"),
        ({"CORTEX_HOST": "0.0.0.0", "CORTEX_PORT": "9004"}, "http://127.0.0.1:9004"),
        ({"CORTEX_HOST": "::1"}, "http://[::1]:8004"),
    ],
)
def test_the_cortex_it_reaches(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert stdio_cortex_url(SynapseSettings()) == expected
