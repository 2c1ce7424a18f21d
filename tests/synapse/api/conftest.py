"""The app on uvicorn in a background thread (a real socket, so streaming and disconnects are real)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

from synapse.agent import Agent
from synapse.api import create_app
from synapse.config import SynapseSettings
from synapse.llm import (
    BackendHealth,
    Backends,
    ChatMessage,
    GenerationOptions,
    LLMBackend,
    ModelInfo,
    StreamDelta,
)
from synapse.triz import Analysis, ContradictionAnalyzer, TrizKnowledge
from tests.conftest import HashingEmbedder
from tests.support.registered import register_embedder
from tests.synapse.agent.fakes import FakeCortex, ScriptedBackend


class FakeCortexEmbedder(HashingEmbedder):
    """The embedder FakeCortex reports in its health ("fake", 8-d), so the embedding routes find it by name."""

    name = "fake"
    dim = 8


@pytest.fixture(autouse=True)
def fake_cortex_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    register_embedder(monkeypatch, FakeCortexEmbedder)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """Runs an ASGI app with uvicorn on a free port until the context ends."""

    def __init__(self, app: FastAPI, start_timeout_s: float = 120.0) -> None:
        self.start_timeout_s = start_timeout_s
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + self.start_timeout_s
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)


class EncodingBackend(ScriptedBackend):
    """Encodes every message as UTF-8 before answering, as llama.cpp and the Ollama client do."""

    async def stream(
        self, messages: Sequence[ChatMessage], model: str, options: GenerationOptions
    ) -> AsyncIterator[StreamDelta]:
        for message in messages:
            message.content.encode("utf-8")
        async for delta in super().stream(messages, model, options):
            yield delta


SECRET = "secret-token-4711 at /srv/private/models/x.gguf"


class CrashingBackend(ScriptedBackend):
    """Fails with an unexpected exception whose text must never reach a client; `after` tokens first."""

    def __init__(self, after: int = 0) -> None:
        super().__init__()
        self.after = after

    async def stream(
        self, messages: Sequence[ChatMessage], model: str, options: GenerationOptions
    ) -> AsyncIterator[StreamDelta]:
        for i in range(self.after):
            yield StreamDelta(content=f"t{i} ")
        raise RuntimeError(SECRET)


class PathBackend(ScriptedBackend):
    """Reports the absolute path of its model file (health, model list), as the embedded llama.cpp backend does."""

    def __init__(self, model_file: str) -> None:
        super().__init__()
        self.model_file = model_file

    async def health(self) -> BackendHealth:
        return BackendHealth(
            backend=self.kind, status="ok", detail=f"{self.model_file} (export)", models=list(self.models)
        )

    async def list_models(self) -> list[ModelInfo]:
        return [m.model_copy(update={"path": self.model_file}) for m in await super().list_models()]


def make_agent_for(
    backend: LLMBackend, cortex: FakeCortex, analyzer: ContradictionAnalyzer, settings: SynapseSettings
) -> Agent:
    backends = Backends(
        {backend.kind: backend}, [backend.kind], triz_model=settings.triz_model, base_model=settings.base_model
    )

    def analyze(problem: str, lang: str) -> Analysis:
        return analyzer.analyze(problem, lang=lang, top=2)

    return Agent(backends, cortex, settings, analyzer=analyze)


@pytest.fixture(scope="session")
def lexicon_analyzer(kb: TrizKnowledge) -> ContradictionAnalyzer:
    return ContradictionAnalyzer(kb, embedder=None)


ServeFn = Callable[..., LiveServer]


@pytest.fixture
def serve(lexicon_analyzer: ContradictionAnalyzer) -> Iterator[ServeFn]:
    """serve(backend=None, cortex=None, **settings) -> a started LiveServer; stopped after the test."""
    started: list[LiveServer] = []

    def start(backend: LLMBackend | None = None, cortex: FakeCortex | None = None, **settings: Any) -> LiveServer:
        backend = backend or ScriptedBackend()
        s = SynapseSettings(backend=backend.kind, **settings)
        agent = make_agent_for(backend, cortex or FakeCortex(), lexicon_analyzer, s)
        server = LiveServer(create_app(s, agent=agent)).__enter__()
        started.append(server)
        return server

    yield start
    for server in started:
        server.__exit__()
