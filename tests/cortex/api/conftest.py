"""The app served in-process (TestClient, lifespan included) on the fake embedder, with an API key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cortex.api import create_app
from tests.conftest import HashingEmbedder
from tests.cortex.conftest import cortex_settings

API_KEY = "test-key-123"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root = tmp_path_factory.mktemp("cortex-api")
    settings = cortex_settings(root / "data", api_key=API_KEY, max_upload_mb=0.05, chunk_tokens=100)
    app = create_app(settings, embedder=HashingEmbedder(), cache_dir=root / "cache")
    with TestClient(app, headers={"X-API-Key": API_KEY}) as test_client:
        yield test_client


NO_KEY = {"X-API-Key": ""}


def data_dir_of(client: TestClient) -> Path:
    return Path(client.app.state.settings.data_dir)  # type: ignore[attr-defined]
