"""CortexClient against the app served by uvicorn on a free port: same answers, same errors."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from cortex import (
    CortexClient,
    CortexError,
    CortexUnavailableError,
    DocumentNotFoundError,
    DocumentTooLargeError,
    QueryRequest,
    UnsupportedDocumentError,
    create_app,
)
from tests.conftest import HashingEmbedder
from tests.cortex.conftest import EN_BRACKET, cortex_settings

KEY = "client-key"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("cortex-uvicorn")
    app = create_app(
        cortex_settings(root / "data", api_key=KEY, max_upload_mb=0.01),
        embedder=HashingEmbedder(),
        cache_dir=root / "cache",
    )
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    else:
        raise RuntimeError("uvicorn did not start")
    yield url
    server.should_exit = True
    thread.join(timeout=30)


@pytest.mark.asyncio
async def test_client_round_trip(server_url: str) -> None:
    async with CortexClient(server_url, api_key=KEY) as client:
        health = await client.health()
        assert health.status == "ok" and health.embedder == "test-hashing"
        result = await client.query(QueryRequest(query="lighter part without losing strength", mode="hybrid"))
        assert result.sources[0].id == "triz:matrix:1-14"
        doc = await client.add_document("bracket.md", EN_BRACKET.encode(), tags=["t1"])
        for _ in range(200):
            if (await client.get_document(doc.id)).status == "processed":
                break
            await asyncio.sleep(0.05)
        assert [d.id for d in await client.list_documents()] == [doc.id]
        assert [d.id for d in await client.list_documents(["processed", "failed"])] == [doc.id]
        assert await client.list_documents(["pending", "processing"]) == []
        await client.delete_document(doc.id)
        with pytest.raises(DocumentNotFoundError):
            await client.get_document(doc.id)


@pytest.mark.asyncio
async def test_client_maps_errors(server_url: str) -> None:
    async with CortexClient(server_url, api_key=KEY) as client:
        with pytest.raises(UnsupportedDocumentError) as unsupported:
            await client.add_document("x.exe", b"MZ")
        assert unsupported.value.hint
        with pytest.raises(DocumentTooLargeError):
            await client.add_document("big.txt", b"x" * 20_000)
    async with httpx.AsyncClient(base_url=server_url, headers={"X-API-Key": KEY}) as raw:
        bad_state = await raw.get("/documents", params={"status": "done"})
        assert bad_state.status_code == 422 and "pending" in bad_state.text
    async with CortexClient(server_url, api_key="wrong") as stranger:
        with pytest.raises(CortexError) as denied:
            await stranger.list_documents()
        assert denied.value.status == 401


@pytest.mark.asyncio
async def test_unreachable_server_is_unavailable(tmp_path: Path) -> None:
    async with CortexClient(f"http://127.0.0.1:{_free_port()}") as client:
        with pytest.raises(CortexUnavailableError) as info:
            await client.health()
    assert "synapse cortex serve" in (info.value.hint or "")


@pytest.mark.asyncio
async def test_client_carries_collections(server_url: str) -> None:
    from cortex.errors import CollectionConflictError, InvalidCollectionError
    from cortex.models import COLLECTION_RULE
    from tests.cortex.test_scope import AERO, AERO_Q

    async with CortexClient(server_url, api_key=KEY) as client:
        doc = await client.add_document("falcon.md", AERO.encode(), collection="aero")
        assert doc.collection == "aero"
        for _ in range(200):
            if (await client.get_document(doc.id)).status == "processed":
                break
            await asyncio.sleep(0.05)
        assert [d.id for d in await client.list_documents(collection="aero")] == [doc.id]
        assert await client.list_documents(["processed"], collection="plant") == []
        found = await client.query(QueryRequest(query=AERO_Q, mode="naive", collections=["aero"]))
        assert any(s.document == "falcon.md" for s in found.sources)
        other = await client.query(QueryRequest(query=AERO_Q, mode="naive", collections=["plant"]))
        assert not any(s.document for s in other.sources)
        with pytest.raises(InvalidCollectionError) as bad:
            await client.add_document("x.md", b"some text to store", collection="Bad")
        assert bad.value.status == 422 and COLLECTION_RULE in bad.value.message
        with pytest.raises(CollectionConflictError):
            await client.add_document("falcon.md", AERO.encode(), collection="plant")
        assert (await client.health()).graph_documents is False
        await client.delete_document(doc.id)
