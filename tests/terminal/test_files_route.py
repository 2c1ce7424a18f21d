"""The route that serves stored elements of old chats: only to the user whose key it is."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from chainlit.auth import get_current_user
from chainlit.server import app
from chainlit.user import PersistedUser
from fastapi.testclient import TestClient

from terminal import handlers
from terminal.files_route import install_files_route

OWN = "Divide an object into parts."
OTHERS = "another user's document"


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("TERMINAL_DATA_DIR", str(tmp_path))
    handlers.settings.cache_clear()
    install_files_route()
    install_files_route()  # once only
    stored = tmp_path / "files" / "u-1" / "el-1" / "1. Segmentation"
    stored.parent.mkdir(parents=True)
    stored.write_text(OWN, encoding="utf-8")
    secret = tmp_path / "files" / "u-2" / "el-9" / "secret.txt"
    secret.parent.mkdir(parents=True)
    secret.write_text(OTHERS, encoding="utf-8")
    user = PersistedUser(id="u-1", identifier="engineer", createdAt="2026-01-01")
    app.dependency_overrides[get_current_user] = lambda: user
    try:
        yield TestClient(app)
    finally:
        app.dependency_overrides.clear()
        handlers.settings.cache_clear()


def raw_get(raw_path: str) -> tuple[int, bytes]:
    """GET with the path sent as is: HTTP clients drop `..` segments, a hand-made request need not.

    The scope is what uvicorn makes of such a request line: `path` percent-decoded, `raw_path` as sent.
    """
    raw, _, query = raw_path.partition("?")
    path = unquote(raw)
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": raw.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent: list[MutableMapping[str, Any]] = []

    requested = asyncio.Event()

    async def receive() -> dict[str, Any]:
        if requested.is_set():  # the client stays connected until the response ends (Starlette cancels this)
            await asyncio.Event().wait()
        requested.set()
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def test_owner_gets_the_element_and_others_do_not(client: TestClient) -> None:
    routes = [getattr(r, "path", "") for r in app.router.routes]
    assert routes.count("/terminal-files/{object_key:path}") == 1  # in front of Chainlit's page route:
    ok = client.get("/terminal-files/u-1/el-1/1.%20Segmentation")
    assert ok.status_code == 200 and ok.text == OWN
    assert client.get("/terminal-files/u-2/el-9/secret.txt").status_code == 404  # that one would answer 200
    assert client.get("/terminal-files/u-1/missing").status_code == 404
    assert client.get("/terminal-files/u-1/el-1").status_code == 404  # a folder is not an element


@pytest.mark.parametrize(
    "path",
    [
        "/terminal-files/u-1/../u-2/el-9/secret.txt",
        "/terminal-files/u-1/el-1/../../u-2/el-9/secret.txt",
        "/terminal-files/u-1/%2e%2e/u-2/el-9/secret.txt",
        "/terminal-files/u-1/%2E%2E%2Fu-2%2Fel-9%2Fsecret.txt",
        "/terminal-files/u-1%2f..%2fu-2/el-9/secret.txt",
        "/terminal-files/u-1/.%2e/u-2/el-9/secret.txt",
    ],
)
def test_a_path_that_leaves_the_owners_folder_is_not_served(client: TestClient, path: str) -> None:
    status, body = raw_get(path)
    assert status == 404 and OTHERS.encode() not in body, (path, status, body)


@pytest.mark.skipif(os.name != "posix", reason="symlinks need privileges on Windows")
def test_a_link_out_of_the_owners_folder_is_not_followed(client: TestClient, tmp_path: Path) -> None:
    link = tmp_path / "files" / "u-1" / "el-2"
    link.symlink_to(tmp_path / "files" / "u-2" / "el-9")
    status, body = raw_get("/terminal-files/u-1/el-2/secret.txt")
    assert status == 404 and OTHERS.encode() not in body
