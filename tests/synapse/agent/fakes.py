"""Test doubles for SYNAPSE: a CORTEX and an LLM backend that subclass the real interfaces."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timezone

from cortex.backend import CortexBackend
from cortex.errors import CortexUnavailableError, DocumentNotFoundError
from cortex.models import CortexHealth, DocumentInfo, DocumentKind, DocumentState, QueryRequest, QueryResult, Source
from synapse.llm import BackendHealth, ChatMessage, GenerationOptions, LLMBackend, ModelInfo, StreamDelta
from synapse.llm.errors import BackendUnavailableError, ModelNotFoundError
from synapse.llm.output import OutputCollector, plan_output

SOURCES = [
    Source(id="triz:principle:1", kind="principle", title="1. Segmentation", snippet="Divide an object.", score=0.9),
    Source(
        id="doc:1", kind="document", title="beams.md", snippet="Hollow beams are light.", score=0.7, document="beams.md"
    ),
    Source(
        id="triz:principle:40", kind="principle", title="40. Composite materials", snippet="Use composites.", score=0.5
    ),
]


class FakeCortex(CortexBackend):
    """Answers every query with the same three sources; `down` makes it unreachable; keeps documents."""

    def __init__(self, *, down: bool = False, sources: list[Source] | None = None) -> None:
        self.down = down
        self.sources = SOURCES if sources is None else sources
        self.queries: list[QueryRequest] = []
        self.docs: dict[str, tuple[DocumentInfo, bytes]] = {}
        self.added = 0

    def _check(self) -> None:
        if self.down:
            raise CortexUnavailableError("fake CORTEX is down", "start it")

    async def health(self) -> CortexHealth:
        self._check()
        return CortexHealth(
            status="ok", embedder="fake", dim=8, documents=len(self.docs), knowledge_version="t", storage="memory"
        )

    async def query(self, request: QueryRequest) -> QueryResult:
        self.queries.append(request)
        self._check()
        srcs = self.sources[: request.top_k]
        context = "\n\n".join(f"[{i}] ({s.kind}) {s.title}\n{s.snippet} FULLTEXT{i}" for i, s in enumerate(srcs, 1))
        lang = "ru" if request.lang == "ru" else "en"
        return QueryResult(
            query=request.query,
            mode_requested=request.mode,
            mode=request.mode,
            lang=lang,
            context=context,
            sources=srcs,
            elapsed_ms=1.0,
        )

    async def add_document(
        self,
        name: str,
        data: bytes,
        *,
        kind: DocumentKind = "document",
        tags: Sequence[str] = (),
        collection: str | None = None,
    ) -> DocumentInfo:
        self._check()
        now = datetime.now(timezone.utc)
        self.added += 1
        info = DocumentInfo(
            id=f"d{self.added}-{name}",
            name=name,
            kind=kind,
            content_type="text/markdown",
            size=len(data),
            sha256="0" * 64,
            status="processed",
            tags=list(tags),
            collection=collection,
            created_at=now,
            updated_at=now,
        )
        self.docs[info.id] = (info, data)
        return info

    async def list_documents(
        self, status: Sequence[DocumentState] = (), collection: str | None = None
    ) -> list[DocumentInfo]:
        return [
            info
            for info, _ in self.docs.values()
            if (not status or info.status in status) and (collection is None or info.collection == collection)
        ]

    async def get_document(self, doc_id: str) -> DocumentInfo:
        if doc_id not in self.docs:
            raise DocumentNotFoundError(f"no document {doc_id}")
        return self.docs[doc_id][0]

    async def delete_document(self, doc_id: str) -> None:
        if self.docs.pop(doc_id, None) is None:
            raise DocumentNotFoundError(f"no document {doc_id}")


class ScriptedBackend(LLMBackend):
    """Streams a fixed answer word by word (or echoes the question); can be slowed, gated, or set down.

    `answers` are given out one per call before `answer` (a scripted agent loop). With `parse_output`, the
    text goes through the embedded backend's own output handling: `<tool_call>` blocks become calls (checked
    against the tools), a forced call or a JSON answer is enforced. Without it, tools and formats are ignored.
    Thread-safe counters let tests running the app in another thread see what happened.
    """

    kind = "ollama"

    def __init__(
        self,
        answer: str | None = "Use principle one [1].",
        *,
        models: tuple[str, ...] = ("triz-td010v2-q4km", "qwen2.5:14b-instruct-q4_k_m"),
        delay_s: float = 0.0,
        window: int = 4096,
        down: bool = False,
        answers: Sequence[str] = (),
        parse_output: bool = False,
    ) -> None:
        self.answer = answer
        self.answers = list(answers)
        self.parse_output = parse_output
        self.models = models
        self.delay_s = delay_s
        self.window = window
        self.down = down
        self.gate = threading.Event()
        self.gate.set()
        self.calls: list[tuple[list[ChatMessage], str, GenerationOptions]] = []
        self.active = 0
        self.cancelled = 0
        self.finished = 0
        self._lock = threading.Lock()

    async def stream(
        self, messages: Sequence[ChatMessage], model: str, options: GenerationOptions
    ) -> AsyncIterator[StreamDelta]:
        if self.down:
            raise BackendUnavailableError("scripted backend is down", "set SYNAPSE_BACKEND")
        if model not in self.models:
            raise ModelNotFoundError(f"no model {model}")
        self.calls.append((list(messages), model, options))
        text = self.answers.pop(0) if self.answers else self.answer if self.answer is not None else messages[-1].content
        every = text.split(" ")
        words = every[: options.max_tokens]
        collector = OutputCollector(plan_output(options)) if self.parse_output else None
        with self._lock:
            self.active += 1
        done = False
        try:
            for i, word in enumerate(words):
                while not self.gate.is_set():
                    await asyncio.sleep(0.01)
                if self.delay_s:
                    await asyncio.sleep(self.delay_s)
                piece = word if i == 0 else " " + word
                for delta in collector.feed(piece) if collector else [StreamDelta(content=piece)]:
                    yield delta
            done = True
            if collector is None:
                yield StreamDelta(done=True, finish_reason="stop", prompt_tokens=11, completion_tokens=len(words))
            else:
                cut = len(words) < len(every)
                for delta in collector.finish(truncated=cut, prompt_tokens=11, completion_tokens=len(words)):
                    yield delta
        finally:
            with self._lock:
                self.active -= 1
                if done:
                    self.finished += 1
                else:
                    self.cancelled += 1

    async def health(self) -> BackendHealth:
        if self.down:
            return BackendHealth(backend=self.kind, status="down", detail="scripted down")
        return BackendHealth(backend=self.kind, status="ok", models=list(self.models))

    async def list_models(self) -> list[ModelInfo]:
        return [ModelInfo(name=m, backend=self.kind, context_window=self.window) for m in self.models]

    def context_window(self, model: str) -> int:
        return self.window

    def count_tokens(self, text: str) -> int:
        return len(text.split()) + 1
