"""A local server that answers Ollama's /api/chat with scripted chunks, tool calls included.

It speaks the documented shapes: NDJSON chunks whose `message` may carry `tool_calls[].function.{name,
arguments (an object)}`, then a `done` chunk with `done_reason` and the counts. It records every request
body, so tests can check the tools, formats and history that reached it.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class ScriptedOllama:
    """Streams `chunks` (message dicts) for every chat, then a done chunk with `done_reason`."""

    def __init__(self, chunks: list[dict[str, Any]], done_reason: str = "stop") -> None:
        self.chunks = chunks
        self.done_reason = done_reason
        self.bodies: list[dict[str, Any]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.owner = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def lines(self, model: str) -> list[dict[str, Any]]:
        head = {"model": model, "created_at": "2025-01-01T00:00:00Z"}
        out = [{**head, "message": {"role": "assistant", "content": "", **c}, "done": False} for c in self.chunks]
        out.append(
            {
                **head,
                "message": {"role": "assistant", "content": ""},
                "done": True,
                "done_reason": self.done_reason,
                "prompt_eval_count": 30,
                "eval_count": 7,
            }
        )
        return out

    def __enter__(self) -> ScriptedOllama:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        owner: ScriptedOllama = self.server.owner  # type: ignore[attr-defined]
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        owner.bodies.append(body)
        if self.path != "/api/chat":
            self.send_error(404)
            return
        data = b"".join(json.dumps(line).encode() + b"\n" for line in owner.lines(body.get("model", "")))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
