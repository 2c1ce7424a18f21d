"""Bodies are bounded before FastAPI reads them: the key first, then the declared and the streamed size.

The app is driven at the ASGI level with a body that arrives in chunks (no Content-Length), so the test
knows exactly how many bytes the app pulled from the request stream, and how many it spooled to disk.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.cortex.api.conftest import API_KEY, MAX_TEXT_CHARS, MAX_UPLOAD_MB
from tests.cortex.conftest import make_pdf
from tests.support.bombs import docx_bomb

CHUNK = 16 * 1024
BOUNDARY = "cortex-test-boundary"
STREAMED = 4 * 2**20  # what the client would send: far over every limit
UPLOAD_BOUND = int(MAX_UPLOAD_MB * 2**20) + 64 * 1024  # the limit plus the multipart slack
MULTIPART = {"content-type": f"multipart/form-data; boundary={BOUNDARY}", "transfer-encoding": "chunked"}


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    pulled: int  # bytes of the body the app received


def _post(client: TestClient, path: str, headers: dict[str, str], chunks: Iterator[bytes]) -> Answer:
    """POST `chunks` to the app in the TestClient's event loop, counting what the app pulls."""
    pulled, finished, messages = 0, False, []

    async def receive() -> dict[str, Any]:
        nonlocal pulled, finished
        chunk = None if finished else next(chunks, None)
        if chunk is None:
            if finished:
                return {"type": "http.disconnect"}
            finished = True
            return {"type": "http.request", "body": b"", "more_body": False}
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }

    async def call() -> None:
        await client.app(scope, receive, send)  # type: ignore[arg-type]

    client.portal.call(call)  # type: ignore[union-attr]
    status = next(m["status"] for m in messages if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return Answer(status, json.loads(body), pulled)


def _multipart_file(size: int, name: str = "big.txt") -> Iterator[bytes]:
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    ).encode()
    for _ in range(size // CHUNK):
        yield b"x" * CHUNK
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


@pytest.fixture
def spooled(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counts the bytes the multipart parser writes to its temporary files."""
    import starlette.formparsers

    total = {"bytes": 0}

    class CountingSpool(tempfile.SpooledTemporaryFile):  # type: ignore[type-arg]
        def write(self, data: Any) -> int:
            total["bytes"] += len(data)
            return super().write(data)

    monkeypatch.setattr(starlette.formparsers, "SpooledTemporaryFile", CountingSpool)
    return total


def test_chunked_upload_with_a_wrong_key_is_refused_unread(client: TestClient, spooled: dict[str, int]) -> None:
    answer = _post(client, "/documents", {**MULTIPART, "x-api-key": "wrong"}, _multipart_file(STREAMED))
    assert answer.status == 401 and answer.body["error"]["code"] == "unauthorized"
    assert answer.pulled == 0 and spooled["bytes"] == 0


def test_chunked_upload_over_the_limit_is_cut_at_the_limit(client: TestClient, spooled: dict[str, int]) -> None:
    answer = _post(client, "/documents", {**MULTIPART, "x-api-key": API_KEY}, _multipart_file(STREAMED))
    assert answer.status == 413 and answer.body["error"]["code"] == "document_too_large"
    assert "CORTEX_MAX_UPLOAD_MB" in answer.body["error"]["hint"]
    assert answer.pulled <= UPLOAD_BOUND + CHUNK  # the chunk that crossed the limit, never handed on
    assert spooled["bytes"] <= UPLOAD_BOUND
    assert client.get("/documents").status_code == 200  # the app is fine afterwards


def test_declared_size_over_the_limit_is_refused_unread(client: TestClient) -> None:
    declared = {"content-type": MULTIPART["content-type"], "content-length": str(STREAMED)}
    wrong = _post(client, "/documents", {**declared, "x-api-key": "wrong"}, _multipart_file(STREAMED))
    assert wrong.status == 401 and wrong.pulled == 0
    right = _post(client, "/documents", {**declared, "x-api-key": API_KEY}, _multipart_file(STREAMED))
    assert right.status == 413 and right.pulled == 0 and "MiB" in right.body["error"]["message"]


def test_chunked_json_body_is_bounded(client: TestClient) -> None:
    chunks = iter([b'{"query": "', *([b"a" * CHUNK] * (STREAMED // CHUNK)), b'"}'])
    headers = {"content-type": "application/json", "transfer-encoding": "chunked", "x-api-key": API_KEY}
    answer = _post(client, "/query", headers, chunks)
    assert answer.status == 413 and answer.body["error"]["code"] == "request_too_large"
    assert answer.pulled <= 2**20 + CHUNK


def _refused(client: TestClient, name: str, data: bytes) -> dict[str, str]:
    before = client.get("/documents").json()
    response = client.post("/documents", files={"file": (name, data, "application/octet-stream")})
    assert response.status_code == 413, response.text
    error: dict[str, str] = response.json()["error"]
    assert error["code"] == "text_too_long" and "CORTEX_MAX_TEXT_CHARS" in error["hint"]
    assert client.get("/documents").json() == before
    return error


def test_docx_bomb_is_refused(client: TestClient) -> None:
    bomb = docx_bomb(20 * 2**20)  # 20 MiB of XML in some 40 KB
    assert len(bomb) < MAX_UPLOAD_MB * 2**20
    _refused(client, "bomb.docx", bomb)


def test_docx_text_over_the_limit_is_refused(client: TestClient) -> None:
    # Within the XML budget, so the text is read until the limit; the file is far under the byte limit.
    _refused(client, "long.docx", docx_bomb(MAX_TEXT_CHARS * 4))


def test_pdf_text_over_the_limit_is_refused(client: TestClient) -> None:
    pdf = make_pdf(["Inspection of the conveyor belts and their rollers. " * 50] * 10)  # 26,000 characters
    assert len(pdf) < MAX_UPLOAD_MB * 2**20
    error = _refused(client, "long.pdf", pdf)
    assert f"{MAX_TEXT_CHARS:,}" in error["message"]


def test_text_file_over_the_limit_is_refused(client: TestClient) -> None:
    _refused(client, "long.txt", b"word " * (MAX_TEXT_CHARS // 4))
