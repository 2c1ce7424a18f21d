"""A stand-in Ollama server for tests and benchmarks: blobs and model creation, on a local port.

It speaks the parts of Ollama's documented HTTP API that registration uses, keeps what it receives
for inspection, and needs nothing beyond the standard library:

    with FakeOllama() as fake:
        register_model(fake.url, profile, gguf)
        assert fake.creates[0]["model"] == "triz-td010v2-q4km"
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

FAKE_VERSION = "0.6.5"
_BLOB_PATH = re.compile(r"^/api/blobs/(?P<digest>[^/]+)$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


class FakeOllama:
    """A local HTTP server that behaves like Ollama for blob upload and model creation.

    `blobs` maps digests to the bytes received, `creates` lists the JSON bodies of /api/create,
    `requests` lists (method, path) in arrival order. Set `create_error` to a message to make
    /api/create stream that message as an error status after its first status.
    """

    def __init__(self, create_error: str | None = None) -> None:
        self.blobs: dict[str, bytes] = {}
        self.creates: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str]] = []
        self.create_error = create_error
        self.lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The server's base URL, e.g. http://127.0.0.1:54321."""
        if self._server is None:
            raise RuntimeError("FakeOllama is not running; use it as a context manager")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def models(self) -> list[str]:
        """The names of the models created so far."""
        with self.lock:
            return [str(body.get("model")) for body in self.creates]

    def start(self) -> FakeOllama:
        """Start serving on 127.0.0.1 at a free port, in a background thread."""
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._server = server
        # A short poll interval keeps stop() quick; the default half second adds up across tests.
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-ollama", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeOllama:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class _Server(ThreadingHTTPServer):
    """The HTTP server, carrying the FakeOllama whose state its handlers change."""

    daemon_threads = True
    fake: FakeOllama


class _Handler(BaseHTTPRequestHandler):
    """One request to the fake server; HTTP/1.1 so that the client may keep its connection."""

    protocol_version = "HTTP/1.1"
    server_version = "FakeOllama"

    @property
    def fake(self) -> FakeOllama:
        """The FakeOllama that owns this server."""
        assert isinstance(self.server, _Server)
        return self.server.fake

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: test output should not fill with access logs."""

    def do_HEAD(self) -> None:
        """HEAD /api/blobs/:digest: 200 when the blob is there, 404 when not."""
        self._record()
        match = _BLOB_PATH.match(self.path)
        if match is None:
            self._empty(404)
            return
        with self.fake.lock:
            present = match["digest"] in self.fake.blobs
        self._empty(200 if present else 404)

    def do_GET(self) -> None:
        """GET /, /api/version and /api/tags."""
        self._record()
        if self.path == "/":
            self._send(200, b"Ollama is running", "text/plain; charset=utf-8")
        elif self.path == "/api/version":
            self._json(200, {"version": FAKE_VERSION})
        elif self.path == "/api/tags":
            models = [{"name": name, "model": name} for name in self.fake.models]
            self._json(200, {"models": models})
        else:
            self._json(404, {"error": "not found"})

    def do_POST(self) -> None:
        """POST /api/blobs/:digest (upload) and POST /api/create (streamed statuses)."""
        self._record()
        # Read the body first: answering before it is read would break the kept-alive connection.
        body = self._body()
        match = _BLOB_PATH.match(self.path)
        if match is not None:
            self._store_blob(match["digest"], body)
        elif self.path == "/api/create":
            self._create(body)
        else:
            self._json(404, {"error": "not found"})

    def _record(self) -> None:
        with self.fake.lock:
            self.fake.requests.append((self.command, self.path))

    def _body(self) -> bytes:
        """The request body, sent either with a Content-Length or in chunks."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            # The chunked body ends with optional trailers and a blank line.
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
            return b"".join(parts)
        return self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))

    def _store_blob(self, digest: str, body: bytes) -> None:
        """Keep an uploaded blob when its content matches the digest in the path, like Ollama."""
        if not _DIGEST.match(digest):
            self._json(400, {"error": f"invalid digest format: {digest}"})
            return
        actual = "sha256:" + hashlib.sha256(body).hexdigest()
        if actual != digest:
            self._json(400, {"error": f"digest mismatch, expected {digest!r}, got {actual!r}"})
            return
        with self.fake.lock:
            self.fake.blobs[digest] = body
        self._empty(201)

    def _create(self, body: bytes) -> None:
        """Create a model: check the request, then stream statuses as NDJSON, or an error status."""
        try:
            request = json.loads(body or b"{}")
        except json.JSONDecodeError as exc:
            self._json(400, {"error": f"invalid JSON: {exc}"})
            return
        if not isinstance(request, dict) or not request.get("model"):
            self._json(400, {"error": "model is required"})
            return
        wanted = {**(request.get("files") or {}), **(request.get("adapters") or {})}
        with self.fake.lock:
            missing = [digest for digest in wanted.values() if digest not in self.fake.blobs]
        if missing:
            self._json(400, {"error": f"blob {missing[0]} not found"})
            return
        if (problem := self._check_gguf(request)) is not None:
            self._json(400, {"error": problem})
            return
        with self.fake.lock:
            self.fake.creates.append(request)
        events = self._create_events(request, wanted)
        if request.get("stream", True):
            self._stream(events)
        else:
            self._json(400 if "error" in events[-1] else 200, events[-1])

    def _check_gguf(self, request: dict[str, Any]) -> str | None:
        """Ollama parses what it is given: models and adapters must be GGUF, adapters LoRA GGUFs."""
        with self.fake.lock:
            for kind in ("files", "adapters"):
                for name, digest in (request.get(kind) or {}).items():
                    head = self.fake.blobs[digest][: 1 << 16]
                    if not head.startswith(b"GGUF"):
                        return f"{name}: invalid file magic"
                    # An adapter carries general.type = "adapter"; a model file does not.
                    if (kind == "adapters") != (b"adapter.type" in head):
                        return f"{name}: {'not a LoRA adapter' if kind == 'adapters' else 'an adapter, not a model'}"
        return None

    def _create_events(self, request: dict[str, Any], wanted: dict[str, str]) -> list[dict[str, Any]]:
        """The statuses Ollama sends while creating a model from uploaded GGUF blobs."""
        if self.fake.create_error is not None:
            return [{"status": "parsing GGUF"}, {"error": self.fake.create_error}]
        events: list[dict[str, Any]] = [{"status": "parsing GGUF"}]
        events += [{"status": f"using existing layer {digest}"} for digest in wanted.values()]
        for part in ("template", "system", "parameters"):
            if request.get(part):
                layer = hashlib.sha256(json.dumps(request[part], sort_keys=True).encode()).hexdigest()
                events.append({"status": f"creating new layer sha256:{layer}"})
        events += [{"status": "writing manifest"}, {"status": "success"}]
        return events

    def _stream(self, events: list[dict[str, Any]]) -> None:
        """Send NDJSON lines in HTTP chunks, one flush per line, as Ollama streams."""
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for event in events:
            line = json.dumps(event).encode() + b"\n"
            self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _json(self, code: int, payload: dict[str, Any]) -> None:
        self._send(code, json.dumps(payload).encode(), "application/json; charset=utf-8")

    def _empty(self, code: int) -> None:
        self._send(code, b"", None)

    def _send(self, code: int, data: bytes, content_type: str | None) -> None:
        self.send_response(code)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
