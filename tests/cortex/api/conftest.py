"""The app served in-process (TestClient, lifespan included) on the fake embedder, with an API key."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cortex.api import create_app
from tests.conftest import HashingEmbedder
from tests.cortex.conftest import cortex_settings

API_KEY = "test-key-123"
# The fixture's limits: 0.05 MiB per upload, 20,000 characters of text per document.
MAX_UPLOAD_MB = 0.05
MAX_TEXT_CHARS = 20_000


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root = tmp_path_factory.mktemp("cortex-api")
    settings = cortex_settings(
        root / "data", api_key=API_KEY, max_upload_mb=MAX_UPLOAD_MB, max_text_chars=MAX_TEXT_CHARS, chunk_tokens=100
    )
    app = create_app(settings, embedder=HashingEmbedder(), cache_dir=root / "cache")
    with TestClient(app, headers={"X-API-Key": API_KEY}) as test_client:
        yield test_client


NO_KEY = {"X-API-Key": ""}


def data_dir_of(client: TestClient) -> Path:
    return Path(client.app.state.settings.data_dir)  # type: ignore[attr-defined]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def served(app: FastAPI) -> Iterator[str]:
    """The app under uvicorn on a free port (lifespan included); yields its base URL."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(1200):
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        else:
            raise RuntimeError("uvicorn did not start")
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=60)
