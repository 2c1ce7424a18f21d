"""A stand-in Ollama server for tests and benchmarks, on a local port, needing only the standard library.

It speaks the parts of Ollama's documented HTTP API that the project's clients use: blob upload and
model creation (registration), /api/embed and /api/embeddings (CORTEX's embedder, LightRAG),
/api/chat and /api/generate, whole or streamed as NDJSON, with tool calls (LightRAG, SYNAPSE's Ollama
backend), /api/tags, /api/show, /api/ps and /api/version. It keeps what it receives for inspection:

    with FakeOllama() as fake:
        register_model(fake.url, profile, gguf)
        assert fake.creates[0]["model"] == "triz-td010v2-q4km"

    with FakeOllama(embed_models={"nomic-embed-text": 768}, chat_models=["qwen2.5:14b"], chat_reply=reply) as fake:
        ...  # the embedding and chat routes answer for those models only, 404 for any other

    with ollama_chat_server("Segment the beam [1].") as fake:
        ...  # the TRIZ model and a baseline pulled, every chat answered with that text word by word

    def reply(request):  # a model that calls a tool once, then answers with the tool's result
        if request["messages"][-1]["role"] == "tool":
            return "It is " + request["messages"][-1]["content"]
        return FakeReply(tool_calls=[{"function": {"name": "get_weather", "arguments": {"city": "Oslo"}}}])
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

FAKE_VERSION = "0.6.5"
CREATED_AT = "2025-01-01T00:00:00Z"
#: The models `ollama_chat_server` has pulled: the exported TRIZ model and the baseline.
CHAT_MODELS = ("triz-td010v2-q4km:latest", "qwen2.5:14b-instruct-q4_k_m")
_BLOB_PATH = re.compile(r"^/api/blobs/(?P<digest>[^/]+)$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_WORD = re.compile(r"\w+")
# A reply streams word by word, each piece with the blanks before it, the last also with those after.
_PIECE = re.compile(r"\s*\S+(?:\s+$)?")
_MODEL_ROUTES = ("/api/embed", "/api/embeddings", "/api/chat", "/api/generate", "/api/show")

#: Ollama keeps a model loaded this long after a request without keep_alive.
DEFAULT_KEEP_ALIVE_S = 300.0
_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_S = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
#: The Go chat template Ollama shows for the pulled chat models (with Qwen2.5's tools block).
CHAT_TEMPLATE = (
    "{{- if .Tools }}<|im_start|>system\n# Tools\n<tools>{{ range .Tools }}{{ . }}{{ end }}</tools><|im_end|>\n"
    "{{ end }}{{ range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n"
)


@dataclass
class FakeReply:
    """A model's whole reply: its text and the tool calls it made (`{"function": {"name", "arguments"}}`,
    arguments an object); the fake adds an `id` and `function.index` to each call, as Ollama 0.12 does.
    `chunks` replaces the word-by-word text with these `message` objects streamed as given."""

    content: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    done_reason: str = "stop"
    chunks: list[dict[str, Any]] | None = None
    eval_count: int | None = None


#: Turns an /api/chat (or /api/generate) request body into the model's whole reply.
ChatReply = Callable[[dict[str, Any]], "str | FakeReply"]


def keep_alive_seconds(value: Any) -> float:
    """Ollama's keep_alive (seconds as a number, or a Go duration like "5m") in seconds; negative: forever."""
    if value is None:
        return DEFAULT_KEEP_ALIVE_S
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    sign = -1.0 if text.startswith("-") else 1.0
    parts = _DURATION_PART.findall(text.lstrip("+-"))
    if text in ("0", "-0") or not parts:
        return 0.0 if text in ("0", "-0") else DEFAULT_KEEP_ALIVE_S
    return sign * sum(float(n) * _UNIT_S[u] for n, u in parts)


class FakeOllamaError(Exception):
    """Raised by a chat reply function to make the fake answer with an HTTP error, as Ollama would."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def model_key(name: str) -> str:
    """Ollama's canonical model name: a name without a tag means the `latest` tag."""
    name = name.strip()
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


def hashed_embedding(text: str, dim: int) -> list[float]:
    """A unit vector from the text's words (first six letters, hashed): texts sharing words are similar."""
    vec = [0.0] * dim
    for word in _WORD.findall(text.lower()):
        h = int.from_bytes(hashlib.blake2b(word[:6].encode(), digest_size=8).digest(), "little")
        vec[h % dim] += 1.0
    norm = math.sqrt(sum(x * x for x in vec))
    if norm == 0:
        vec[0], norm = 1.0, 1.0  # Ollama never answers a zero vector, even for an empty text
    return [x / norm for x in vec]


def _default_reply(request: dict[str, Any]) -> str:
    return "I am a stand-in model."


class FakeOllama:
    """A local HTTP server that behaves like Ollama.

    Registration: `blobs` maps digests to the bytes received, `creates` lists the JSON bodies of
    /api/create. Set `create_error` to a message to make /api/create stream that message as an
    error status after its first status.

    Pulled models: `embed_models` maps embedding models to their dimension (vectors from
    `hashed_embedding`), `chat_models` names chat models, which answer with `chat_reply(body)`;
    a positive `options.num_predict` cuts the reply to that many words; `chat_reply` may return a
    FakeReply to call tools. `toolless_models` are chat models whose template has no tools block:
    /api/show gives them no `tools` capability and a chat with tools gets Ollama's 400. With
    `any_chat_model` every name is a chat model. `prompt_tokens` fixes the prompt_eval_count
    reported (default: the words of the messages); `stream_delay_s` waits after each streamed
    piece. Any other model gets Ollama's 404 `model '<name>' not found`. `loaded` holds the models
    a chat, generate or embed request loaded, until their keep_alive runs out (/api/ps lists them).

    Records: `requests` lists (method, path) in arrival order, `bodies` every JSON body posted to
    the model routes, `embeds`, `chats` and `generates` those each route answered, `aborted`
    counts streams the client closed before their end. The first start picks a free port (or
    `port`) and later starts reuse it, so a stopped fake plays an Ollama that went down and came
    back at the same OLLAMA_HOST.
    """

    def __init__(
        self,
        create_error: str | None = None,
        *,
        embed_models: Mapping[str, int] | None = None,
        chat_models: Iterable[str] = (),
        chat_reply: ChatReply | None = None,
        port: int = 0,
        prompt_tokens: int | None = None,
        stream_delay_s: float = 0.0,
        toolless_models: Iterable[str] = (),
        any_chat_model: bool = False,
    ) -> None:
        self.blobs: dict[str, bytes] = {}
        self.creates: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str]] = []
        self.bodies: list[dict[str, Any]] = []
        self.embeds: list[dict[str, Any]] = []
        self.chats: list[dict[str, Any]] = []
        self.generates: list[dict[str, Any]] = []
        self.aborted = 0
        self.create_error = create_error
        self.embed_models = {model_key(name): dim for name, dim in (embed_models or {}).items()}
        self.chat_models = {model_key(name) for name in chat_models}
        self.chat_reply = chat_reply or _default_reply
        self.prompt_tokens = prompt_tokens
        self.stream_delay_s = stream_delay_s
        self.toolless_models = {model_key(name) for name in toolless_models}
        self.any_chat_model = any_chat_model
        #: Loaded models (canonical names) and when each unloads; None: never (keep_alive < 0).
        self.loaded: dict[str, datetime | None] = {}
        self.port = port
        self.lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The server's base URL, e.g. http://127.0.0.1:54321 (still its address while stopped)."""
        if self._server is None:
            if not self.port:
                raise RuntimeError("FakeOllama is not running; use it as a context manager")
            return f"http://127.0.0.1:{self.port}"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def models(self) -> list[str]:
        """The names of the models created so far."""
        with self.lock:
            return [str(body.get("model")) for body in self.creates]

    @property
    def running(self) -> bool:
        """Whether the server is accepting connections."""
        return self._server is not None

    def start(self) -> FakeOllama:
        """Start serving on 127.0.0.1 (a free port the first time, the same port after), in a background thread."""
        server = _Server(("127.0.0.1", self.port), _Handler)
        server.fake = self
        self.port = int(server.server_address[1])
        self._server = server
        # A short poll interval keeps stop() quick; the default half second adds up across tests.
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-ollama", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, drop kept-alive connections (a real server that stops drops them) and free the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server.drop_connections()
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


def ollama_chat_server(reply: str = "Segment the beam [1].", delay_s: float = 0.0) -> FakeOllama:
    """A fake with `CHAT_MODELS` and nomic-embed-text pulled, answering every chat with `reply`.

    It reports 21 prompt tokens whatever the prompt, so tests can check usage figures exactly.
    """
    return FakeOllama(
        embed_models={"nomic-embed-text": 768},
        chat_models=CHAT_MODELS,
        chat_reply=lambda _request: reply,
        prompt_tokens=21,
        stream_delay_s=delay_s,
    )


class _Server(ThreadingHTTPServer):
    """The HTTP server, carrying the FakeOllama whose state its handlers change."""

    daemon_threads = True
    fake: FakeOllama

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, addr = super().get_request()
        with self._open_lock:
            self._open.add(conn)
        return conn, addr

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        """Close connections still open (kept alive by clients), so no request is answered after stop."""
        with self._open_lock:
            conns, self._open = list(self._open), set()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()


def _details(family: str, quantization: str) -> dict[str, Any]:
    return {"format": "gguf", "family": family, "families": [family], "quantization_level": quantization}


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
            self._json(200, {"models": self._tags()})
        elif self.path == "/api/ps":
            self._json(200, {"models": self._running()})
        else:
            self._json(404, {"error": "not found"})

    def do_POST(self) -> None:
        """POST /api/blobs/:digest (upload), /api/create (streamed statuses) and the model routes."""
        self._record()
        # Read the body first: answering before it is read would break the kept-alive connection.
        body = self._body()
        match = _BLOB_PATH.match(self.path)
        if match is not None:
            self._store_blob(match["digest"], body)
        elif self.path == "/api/create":
            self._create(body)
        elif self.path in _MODEL_ROUTES:
            request = self._request_json(body)
            if request is not None:
                self._model_route(request)
        else:
            self._json(404, {"error": "not found"})

    def _model_route(self, request: dict[str, Any]) -> None:
        with self.fake.lock:
            self.fake.bodies.append(request)
        if self.path == "/api/chat":
            self._chat(request)
        elif self.path == "/api/generate":
            self._generate(request)
        elif self.path == "/api/show":
            self._show(request)
        else:
            self._embed(request, legacy=self.path == "/api/embeddings")

    def _tags(self) -> list[dict[str, Any]]:
        """Created models, then the pulled chat models, then the embedding models, each sorted."""
        models: list[dict[str, Any]] = [{"name": name, "model": name} for name in self.fake.models]
        pulled = [(name, _details("qwen2", "Q4_K_M")) for name in sorted(self.fake.chat_models)]
        pulled += [(name, _details("nomic-bert", "F16")) for name in sorted(self.fake.embed_models)]
        models += [
            {
                "name": name,
                "model": name,
                "size": 1000,
                "digest": hashlib.sha256(name.encode()).hexdigest(),
                "details": details,
            }
            for name, details in pulled
        ]
        return models

    def _request_json(self, body: bytes) -> dict[str, Any] | None:
        """The JSON object of a request with a model, or None after answering 400 as Ollama does."""
        try:
            request = json.loads(body or b"{}")
        except json.JSONDecodeError as exc:
            self._json(400, {"error": f"invalid JSON: {exc}"})
            return None
        if not isinstance(request, dict) or not request.get("model"):
            self._json(400, {"error": "model is required"})
            return None
        return request

    def _not_found(self, model: str) -> None:
        self._json(404, {"error": f"model '{model}' not found"})

    def _show(self, request: dict[str, Any]) -> None:
        """/api/show: details, template, parameters, metadata and capabilities, which clients check before
        sending tools."""
        key = model_key(str(request["model"]))
        if key in self.fake.embed_models:
            details, capabilities = _details("nomic-bert", "F16"), ["embedding"]
            info: dict[str, Any] = {"general.architecture": "nomic-bert", "nomic-bert.context_length": 2048}
            template, parameters = "{{ .Prompt }}", ""
        elif self._is_chat_model(key) or key in {model_key(name) for name in self.fake.models}:
            details = _details("qwen2", "Q4_K_M")
            capabilities = ["completion"] if key in self.fake.toolless_models else ["completion", "tools"]
            info = {
                "general.architecture": "qwen2",
                "general.parameter_count": 1543714304,
                "qwen2.context_length": 32768,
            }
            template, parameters = (
                CHAT_TEMPLATE,
                'stop                           "<|im_end|>"\nnum_ctx                        8192',
            )
        else:
            self._not_found(str(request["model"]))
            return
        self._json(
            200,
            {
                "modelfile": f"FROM {key}\n",
                "parameters": parameters,
                "template": template,
                "details": details,
                "model_info": info,
                "capabilities": capabilities,
                "modified_at": CREATED_AT,
            },
        )

    def _is_chat_model(self, key: str) -> bool:
        return self.fake.any_chat_model or key in self.fake.chat_models

    def _load(self, request: dict[str, Any]) -> None:
        """Keep the request's model loaded for its keep_alive (0 unloads it, a negative one keeps it)."""
        seconds = keep_alive_seconds(request.get("keep_alive"))
        key = model_key(str(request["model"]))
        with self.fake.lock:
            if seconds == 0:
                self.fake.loaded.pop(key, None)
            else:
                until = None if seconds < 0 else datetime.now(timezone.utc) + timedelta(seconds=seconds)
                self.fake.loaded[key] = until

    def _running(self) -> list[dict[str, Any]]:
        """/api/ps: the loaded models, the one kept longest first; a model kept forever expires in ~292 years."""
        now = datetime.now(timezone.utc)
        with self.fake.lock:
            loaded = {k: until for k, until in self.fake.loaded.items() if until is None or until > now}
        listed = {m["name"]: m for m in self._tags()}
        forever = now + timedelta(days=365 * 292)
        out = []
        for key, until in sorted(loaded.items(), key=lambda kv: kv[1] or forever, reverse=True):
            tag = listed.get(key, {"size": 1000, "digest": hashlib.sha256(key.encode()).hexdigest()})
            family = "nomic-bert" if key in self.fake.embed_models else "qwen2"
            out.append(
                {
                    "name": key,
                    "model": key,
                    "size": tag.get("size", 1000),
                    "digest": tag.get("digest", ""),
                    "details": {**_details(family, "Q4_K_M"), "parent_model": "", "parameter_size": "1.5B"},
                    "expires_at": (until or forever).isoformat().replace("+00:00", "Z"),
                    "size_vram": tag.get("size", 1000),
                    "context_length": 4096,
                }
            )
        return out

    def _embed(self, request: dict[str, Any], legacy: bool) -> None:
        """/api/embed ({input: str | [str]} -> {embeddings}) and the older /api/embeddings ({prompt} -> {embedding})."""
        model = str(request["model"])
        dim = self.fake.embed_models.get(model_key(model))
        if dim is None:
            self._not_found(model)
            return
        with self.fake.lock:
            self.fake.embeds.append(request)
        self._load(request)
        if legacy:
            self._json(200, {"embedding": hashed_embedding(str(request.get("prompt") or ""), dim)})
            return
        texts = request.get("input", [])
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not all(isinstance(t, str) for t in texts):
            self._json(400, {"error": "invalid input type"})
            return
        wanted = request.get("dimensions")
        vectors = [hashed_embedding(t, dim) for t in texts]
        if isinstance(wanted, int) and 0 < wanted < dim:
            # Ollama cuts matryoshka vectors to the dimensions asked for and normalises them again.
            vectors = [[x / (math.sqrt(sum(y * y for y in v[:wanted])) or 1.0) for x in v[:wanted]] for v in vectors]
        words = sum(len(_WORD.findall(t)) for t in texts)
        self._json(
            200,
            {
                "model": model,
                "embeddings": vectors,
                "total_duration": 1000,
                "load_duration": 10,
                "prompt_eval_count": words,
            },
        )

    def _reply(self, request: dict[str, Any], records: list[dict[str, Any]]) -> tuple[list[str], FakeReply] | None:
        """The reply and its text's pieces for a chat or generate request, or None after answering an error."""
        model = str(request["model"])
        key = model_key(model)
        if not self._is_chat_model(key):
            self._not_found(model)
            return None
        if request.get("tools") and key in self.fake.toolless_models:
            self._json(400, {"error": f"registry.ollama.ai/library/{model} does not support tools"})
            return None
        with self.fake.lock:
            records.append(request)
        try:
            answer = self.fake.chat_reply(request)
        except FakeOllamaError as exc:
            self._json(exc.status, {"error": exc.message})
            return None
        reply = answer if isinstance(answer, FakeReply) else FakeReply(content=answer)
        pieces = _PIECE.findall(reply.content) or ([reply.content] if reply.content else [])
        limit = (request.get("options") or {}).get("num_predict")
        if isinstance(limit, int) and limit > 0:
            pieces = pieces[:limit]
        self._load(request)
        return pieces, reply

    def _counts(self, prompt: str, reply: str, done: FakeReply) -> dict[str, Any]:
        """The timing and token figures of a finished generation."""
        prompt_count = self.fake.prompt_tokens
        calls = " ".join(json.dumps(c) for c in done.tool_calls)
        return {
            "done": True,
            "done_reason": done.done_reason,
            "total_duration": 1000,
            "load_duration": 10,
            "prompt_eval_count": len(_WORD.findall(prompt)) if prompt_count is None else prompt_count,
            "eval_count": len(_WORD.findall(reply + calls)) if done.eval_count is None else done.eval_count,
            "eval_duration": 500,
        }

    @staticmethod
    def _calls(reply: FakeReply) -> list[dict[str, Any]]:
        """The reply's calls as Ollama 0.12 sends them: an id, and the function with its index."""
        return [
            {"id": f"call_{i:08d}", "function": {"index": i, **call.get("function", call)}}
            for i, call in enumerate(reply.tool_calls)
        ]

    def _chat(self, request: dict[str, Any]) -> None:
        """/api/chat: the reply of `chat_reply`, whole (stream false) or as NDJSON pieces (the default);
        tool calls come whole in a chunk of their own after the text, as Ollama streams them."""
        answered = self._reply(request, self.fake.chats)
        if answered is None:
            return
        pieces, reply = answered
        model = str(request["model"])
        prompt = " ".join(str(m.get("content", "")) for m in request.get("messages", []))
        final = {"model": model, "created_at": CREATED_AT, **self._counts(prompt, "".join(pieces), reply)}
        calls = {"tool_calls": self._calls(reply)} if reply.tool_calls else {}
        if request.get("stream", True) is False:
            self._json(200, {**final, "message": {"role": "assistant", "content": "".join(pieces), **calls}})
            return
        messages = reply.chunks or [{"content": p} for p in pieces] + ([{"content": "", **calls}] if calls else [])
        head = {"model": model, "created_at": CREATED_AT}
        events = [{**head, "message": {"role": "assistant", "content": "", **m}, "done": False} for m in messages]
        self._stream([*events, {**final, "message": {"role": "assistant", "content": ""}}], self.fake.stream_delay_s)

    def _generate(self, request: dict[str, Any]) -> None:
        """/api/generate: like /api/chat, for a single prompt, the text in `response`."""
        answered = self._reply(request, self.fake.generates)
        if answered is None:
            return
        pieces, reply = answered
        model = str(request["model"])
        final = {
            "model": model,
            "created_at": CREATED_AT,
            **self._counts(str(request.get("prompt", "")), "".join(pieces), reply),
        }
        if request.get("stream", True) is False:
            self._json(200, {**final, "response": "".join(pieces)})
            return
        events = [{"model": model, "created_at": CREATED_AT, "response": p, "done": False} for p in pieces]
        self._stream([*events, {**final, "response": ""}], self.fake.stream_delay_s)

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
        request = self._request_json(body)
        if request is None:
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

    def _stream(self, events: list[dict[str, Any]], delay_s: float = 0.0) -> None:
        """Send NDJSON lines in HTTP chunks, one flush per line, as Ollama streams; count a client that left."""
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for event in events:
                line = json.dumps(event).encode() + b"\n"
                self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
                self.wfile.flush()
                if delay_s:
                    time.sleep(delay_s)
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            with self.fake.lock:
                self.fake.aborted += 1
            self.close_connection = True

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
