"""The route that serves stored elements of old chats: only to the user whose key it is."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from chainlit.auth import get_current_user
from chainlit.server import app
from chainlit.user import PersistedUser
from fastapi.testclient import TestClient

from terminal import handlers
from terminal.files_route import install_files_route


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("TERMINAL_DATA_DIR", str(tmp_path))
    handlers.settings.cache_clear()
    install_files_route()
    install_files_route()  # once only
    stored = tmp_path / "files" / "u-1" / "el-1" / "1. Segmentation"
    stored.parent.mkdir(parents=True)
    stored.write_text("Divide an object into parts.", encoding="utf-8")
    user = PersistedUser(id="u-1", identifier="engineer", createdAt="2026-01-01")
    app.dependency_overrides[get_current_user] = lambda: user
    try:
        yield TestClient(app)
    finally:
        app.dependency_overrides.clear()
        handlers.settings.cache_clear()


def test_owner_gets_the_element_and_others_do_not(client: TestClient) -> None:
    routes = [getattr(r, "path", "") for r in app.router.routes]
    assert routes.count("/terminal-files/{object_key:path}") == 1 and routes[0] == "/terminal-files/{object_key:path}"
    ok = client.get("/terminal-files/u-1/el-1/1.%20Segmentation")
    assert ok.status_code == 200 and ok.text == "Divide an object into parts."
    assert client.get("/terminal-files/u-2/el-1/1.%20Segmentation").status_code == 404
    assert client.get("/terminal-files/u-1/../u-2/x").status_code == 404
    assert client.get("/terminal-files/u-1/missing").status_code == 404
