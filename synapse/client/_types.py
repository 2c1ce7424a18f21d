"""What SYNAPSE's OpenAI-compatible API returns: models, chunks of a streamed answer, whole answers, extras."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

RagMode = Literal["off", "naive", "local", "global", "hybrid", "mix"]
RAG_MODES: tuple[RagMode, ...] = ("off", "naive", "local", "global", "hybrid", "mix")

#: The fields SYNAPSE adds to OpenAI's shapes (on the first chunk when streaming).
EXTRA_FIELDS = ("sources", "warnings", "triz", "retrieval", "routing")


class _Lenient(BaseModel):
    # SYNAPSE may add fields over time; a client reads what it knows and ignores the rest.
    model_config = ConfigDict(extra="ignore")


class SourceItem(_Lenient):
    """One retrieved item an answer was built from."""

    id: str
    kind: str = "document"
    title: str = ""
    snippet: str = ""
    score: float = 0.0
    document: str | None = None
    page: int | None = None


class NamedRef(_Lenient):
    id: int
    name: str


class ContradictionItem(_Lenient):
    """One technical contradiction the analyzer found, with its matrix principles."""

    improving: NamedRef
    worsening: NamedRef
    score: float = 0.0
    principles: list[NamedRef] = Field(default_factory=list)


class TrizSummary(_Lenient):
    """The `triz` field: contradictions found in the question."""

    contradictions: list[ContradictionItem] = Field(default_factory=list)
    lang: str = "en"
    message: str | None = None


class RetrievalFacts(_Lenient):
    """The `retrieval` field: which mode ran, how long it and the whole preparation took, how many sources."""

    mode: str = "off"
    mode_requested: str | None = None
    elapsed_ms: float = 0.0
    count: int = 0
    plan_ms: float = 0.0


class Routing(_Lenient):
    backend: str = ""
    model: str = ""
    route: str = ""
    score: float | None = None


class TurnMeta(_Lenient):
    """Everything SYNAPSE adds to an answer besides the text."""

    sources: list[SourceItem] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    triz: TrizSummary | None = None
    retrieval: RetrievalFacts | None = None
    routing: Routing | None = None

    def meta(self) -> TurnMeta:
        """Only the extras, as a TurnMeta of their own."""
        return TurnMeta(
            sources=self.sources, warnings=self.warnings, triz=self.triz, retrieval=self.retrieval, routing=self.routing
        )


class Usage(_Lenient):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class Delta(_Lenient):
    role: str | None = None
    content: str | None = None


class ChunkChoice(_Lenient):
    index: int = 0
    delta: Delta | None = None
    finish_reason: str | None = None


class _Completion(TurnMeta):
    """What a chunk and a whole answer share: ids, the model that answered, the extras, the usage."""

    id: str = ""
    model: str = ""
    created: int = 0
    usage: Usage | None = None


class ChatChunk(_Completion):
    """One `chat.completion.chunk` of a streamed answer, with SYNAPSE's extras where it carries them."""

    choices: list[ChunkChoice] = Field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(c.delta.content for c in self.choices if c.delta is not None and c.delta.content)

    @property
    def finish_reason(self) -> str | None:
        return next((c.finish_reason for c in self.choices if c.finish_reason), None)


class Message(_Lenient):
    role: str = "assistant"
    content: str | None = None


class Choice(_Lenient):
    index: int = 0
    message: Message = Field(default_factory=Message)
    finish_reason: str | None = None


class ChatResponse(_Completion):
    """A whole `chat.completion` (`stream: false`), with SYNAPSE's extras."""

    choices: list[Choice] = Field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(c.message.content or "" for c in self.choices)


class ServiceHealth(_Lenient):
    """What SYNAPSE's /health says (200 while a backend answers, 503 otherwise: both are read)."""

    status: str = "unknown"
    cortex: dict[str, Any] = Field(default_factory=dict)

    @property
    def graph_documents(self) -> bool | None:
        """Whether CORTEX's graph modes reach the user's documents (None: CORTEX did not say)."""
        value = self.cortex.get("graph_documents")
        return value if isinstance(value, bool) else None


class ModelInfo(_Lenient):
    """One entry of SYNAPSE's /v1/models."""

    id: str
    owned_by: str = ""
    description: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)
