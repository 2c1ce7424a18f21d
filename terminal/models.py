"""What the terminal reads from SYNAPSE and CORTEX: the extra fields of a streamed answer, models, documents."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

RagMode = Literal["off", "naive", "local", "global", "hybrid", "mix"]
RAG_MODES: tuple[RagMode, ...] = ("off", "naive", "local", "global", "hybrid", "mix")


class _Lenient(BaseModel):
    # SYNAPSE may add fields over time; the terminal shows what it knows and ignores the rest.
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
    """The `retrieval` field: which mode ran, how long it took and how many sources came back."""

    mode: str = "off"
    mode_requested: str | None = None
    elapsed_ms: float = 0.0
    count: int = 0


class Routing(_Lenient):
    backend: str = ""
    model: str = ""
    route: str = ""


class TurnMeta(_Lenient):
    """Everything the first chunk of a streamed answer carries besides the text."""

    sources: list[SourceItem] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    triz: TrizSummary | None = None
    retrieval: RetrievalFacts | None = None
    routing: Routing | None = None


class Usage(_Lenient):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class MetaEvent(BaseModel):
    """The answer's metadata arrived (retrieval is over, tokens follow)."""

    kind: Literal["meta"] = "meta"
    meta: TurnMeta


class TokenEvent(BaseModel):
    """A piece of the answer's text."""

    kind: Literal["token"] = "token"
    text: str


class DoneEvent(BaseModel):
    """The answer is complete."""

    kind: Literal["done"] = "done"
    finish_reason: str = "stop"
    usage: Usage | None = None


StreamEvent = MetaEvent | TokenEvent | DoneEvent


class ModelInfo(_Lenient):
    """One entry of SYNAPSE's /v1/models."""

    id: str
    owned_by: str = ""
    description: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)


class DocumentStatus(_Lenient):
    """A stored document and its processing state, as CORTEX reports it."""

    id: str
    name: str
    status: Literal["pending", "processing", "processed", "failed"]
    error: str | None = None
    chunks: int = 0
    size: int = 0

    @property
    def finished(self) -> bool:
        return self.status in ("processed", "failed")
