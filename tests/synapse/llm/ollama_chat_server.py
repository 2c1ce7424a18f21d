"""A local HTTP server speaking Ollama's documented chat API: /api/chat (NDJSON streaming), /api/tags, /api/embed."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODELS = ["triz-td010v2-q4km:latest", "qwen2.5:14b-instruct-q4_k_m"]


class OllamaChatServer:
    """Answers each chat by streaming `reply` word by word; records the request bodies it received."""

    def __init__(self, reply: str = "Segment the beam [1].", delay_s: float = 0.0) -> None:
        self.reply = reply
        self.delay_s = delay_s
        #: Streams the client closed before their end (the server's write failed).
        self.aborted = 0
        self.bodies: list[dict[str, Any]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.owner = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> OllamaChatServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    @property
    def owner(self) -> OllamaChatServer:
        return self.server.owner  # type: ignore[attr-defined,no-any-return]

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/api/tags":
            models = [
                {
                    "name": m,
                    "model": m,
                    "size": 1000,
                    "digest": "0" * 64,
                    "details": {"family": "qwen2", "quantization_level": "Q4_K_M"},
                }
                for m in MODELS
            ]
            self._json(200, {"models": models})
        elif self.path == "/api/version":
            self._json(200, {"version": "0.6.5"})
        else:
            self._json(404, {"error": "not found"})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        self.owner.bodies.append(body)
        if self.path == "/api/embed":
            self._json(200, {"model": body["model"], "embeddings": [[0.1, 0.2, 0.3] for _ in body["input"]]})
            return
        if self.path != "/api/chat":
            self._json(404, {"error": "not found"})
            return
        model = body.get("model", "")
        if model not in MODELS and f"{model}:latest" not in MODELS:
            self._json(404, {"error": f"model '{model}' not found"})
            return
        words = self.owner.reply.split(" ")[: body.get("options", {}).get("num_predict", 1000)]
        lines = [
            {
                "model": model,
                "created_at": "2025-01-01T00:00:00Z",
                "message": {"role": "assistant", "content": w if i == 0 else " " + w},
                "done": False,
            }
            for i, w in enumerate(words)
        ]
        lines.append(
            {
                "model": model,
                "created_at": "2025-01-01T00:00:00Z",
                "message": {"role": "assistant", "content": ""},
                "done": True,
                "done_reason": "stop",
                "total_duration": 1000,
                "prompt_eval_count": 21,
                "eval_count": len(words),
                "eval_duration": 500,
            }
        )
        if not body.get("stream", True):
            final = dict(lines[-1])
            final["message"] = {"role": "assistant", "content": "".join(x["message"]["content"] for x in lines)}
            self._json(200, final)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for line in lines:
                data = json.dumps(line).encode() + b"\n"
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()
                time.sleep(self.owner.delay_s)
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            self.owner.aborted += 1
            self.close_connection = True
