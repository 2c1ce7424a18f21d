"""A local HTTP server that speaks SYNAPSE's chat API and CORTEX's document API, for the terminal's tests."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, File, Request, UploadFile
from fastapi.responses import JSONResponse, StreamingResponse

SOURCES = [
    {
        "id": "principle:1",
        "kind": "principle",
        "title": "Principle 1: Segmentation",
        "snippet": "Divide an object into independent parts.",
        "score": 0.82,
        "document": None,
        "page": None,
    },
    {
        "id": "doc:pump-manual#3",
        "kind": "document",
        "title": "Pump manual",
        "snippet": "The impeller wears faster at high speed.",
        "score": 0.61,
        "document": "pump-manual.pdf",
        "page": 3,
    },
]
TRIZ = {
    "contradictions": [
        {
            "improving": {"id": 14, "name": "Strength"},
            "worsening": {"id": 1, "name": "Weight of moving object"},
            "score": 0.8,
            "principles": [{"id": 1, "name": "Segmentation"}, {"id": 8, "name": "Anti-weight"}],
        }
    ],
    "lang": "en",
    "message": None,
}


@dataclass
class FakeState:
    """What the fake answers and what it was asked."""

    tokens: list[str] = field(default_factory=lambda: ["Use ", "segmentation ", "and ", "anti-weight."])
    sources: list[dict[str, Any]] = field(default_factory=lambda: list(SOURCES))
    warnings: list[str] = field(default_factory=lambda: ["demo model: answers show the pipeline, not quality"])
    triz: dict[str, Any] | None = field(default_factory=lambda: dict(TRIZ))
    token_delay_s: float = 0.0
    fail_midstream: bool = False
    chat_status: int = 200
    requests: list[dict[str, Any]] = field(default_factory=list)
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    uploads: list[tuple[str, bytes]] = field(default_factory=list)
    #: How many status polls a document stays "processing" before it is "processed".
    polls_to_process: int = 1
    fail_documents: bool = False


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": "triz-agent",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _sse(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def create_fake_app(state: FakeState) -> FastAPI:
    app = FastAPI()

    @app.get("/health")
    async def health() -> dict[str, Any]:
        cortex = {"status": "ok", "graph_documents": False}  # no extraction LLM, as on embedded defaults
        return {"status": "ok", "model": "fake-model", "embedder": "test-hashing", "cortex": cortex}

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        now = int(time.time())
        agent = {"triz-agent": "TRIZ", "triz-agent-base": "base", "sport": "Sport coach with the sport documents"}
        data = [
            {"id": i, "object": "model", "created": now, "owned_by": "synapse", "description": d}
            for i, d in agent.items()
        ]
        data.append({"id": "smollm2-135m-demo", "object": "model", "created": now, "owned_by": "llamacpp"})
        embedder = {"kind": "embedding", "capabilities": ["embedding"], "dimensions": 256}
        data.append({"id": "test-hashing", "object": "model", "created": now, "owned_by": "cortex", "extra": embedder})
        return {"object": "list", "data": data}

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        body = await request.json()
        state.requests.append(body)
        if state.chat_status != 200:
            error = {"message": "model not found", "type": "not_found_error", "param": None, "code": "x"}
            return JSONResponse({"error": error}, status_code=state.chat_status)
        question = body["messages"][-1]["content"]
        doc_sources = [
            {
                "id": f"doc:{d['id']}",
                "kind": "document",
                "title": d["name"],
                "snippet": d["text"][:200],
                "score": 0.7,
                "document": d["name"],
                "page": None,
            }
            for d in state.documents.values()
            if d["status"] == "processed"
            and any(w in d["text"].lower() for w in question.lower().split() if len(w) > 4)
        ]

        async def events() -> AsyncIterator[bytes]:
            first = _chunk({"role": "assistant", "content": ""})
            first.update(
                sources=[*doc_sources, *state.sources],
                warnings=state.warnings,
                triz=state.triz,
                retrieval={"mode": body.get("rag", {}).get("mode", "mix"), "elapsed_ms": 12.5, "count": 2},
                routing={"backend": "fake", "model": "fake-model", "route": "triz"},
            )
            yield _sse(first)
            for token in state.tokens:
                if state.token_delay_s:
                    await asyncio.sleep(state.token_delay_s)
                yield _sse(_chunk({"content": token}))
            if state.fail_midstream:
                yield _sse({"error": {"message": "backend crashed", "type": "api_error", "param": None, "code": "x"}})
                yield b"data: [DONE]\n\n"
                return
            last = _chunk({}, "stop")
            last["usage"] = {"prompt_tokens": 10, "completion_tokens": len(state.tokens), "total_tokens": 14}
            yield _sse(last)
            yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    def _info(doc: dict[str, Any]) -> dict[str, Any]:
        now = "2026-01-01T00:00:00Z"
        return {
            "id": doc["id"],
            "name": doc["name"],
            "kind": "document",
            "content_type": "text/plain",
            "size": len(doc["text"]),
            "sha256": "0" * 64,
            "status": doc["status"],
            "error": doc.get("error"),
            "chunks": 1 if doc["status"] == "processed" else 0,
            "tags": [],
            "created_at": now,
            "updated_at": now,
        }

    @app.post("/documents")
    async def upload(file: UploadFile = File(...)) -> dict[str, Any]:  # noqa: B008
        content = await file.read()
        state.uploads.append((file.filename or "", content))
        doc = {
            "id": uuid.uuid4().hex[:12],
            "name": file.filename or "upload",
            "text": content.decode("utf-8", "replace"),
            "status": "pending",
            "polls": 0,
        }
        state.documents[doc["id"]] = doc
        return _info(doc)

    @app.get("/documents/{doc_id}")
    async def document(doc_id: str) -> Any:
        doc = state.documents.get(doc_id)
        if doc is None:
            return JSONResponse({"detail": "no such document"}, status_code=404)
        doc["polls"] += 1
        if state.fail_documents:
            doc["status"], doc["error"] = "failed", "unsupported file"
        elif doc["polls"] > state.polls_to_process:
            doc["status"] = "processed"
        else:
            doc["status"] = "processing"
        return _info(doc)

    return app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class FakeServer:
    """The fake app served by uvicorn on a free port in a background thread."""

    def __init__(self, state: FakeState | None = None) -> None:
        self.state = state or FakeState()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(create_fake_app(self.state), host="127.0.0.1", port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> FakeServer:
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
