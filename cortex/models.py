"""What crosses the CORTEX boundary: queries, sources, documents, health (shared by in-process and HTTP use)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema

from synapse.lang import Lang, LangChoice

QueryMode = Literal["naive", "local", "global", "hybrid", "mix"]
SourceKind = Literal["principle", "parameter", "matrix", "separation", "document", "dialogue"]
DocumentKind = Literal["document", "dialogue"]
DocumentState = Literal["pending", "processing", "processed", "failed"]


#: What a collection's name may be; said in every error about one.
COLLECTION_RULE = "a collection name is 1-64 characters: lowercase letters, digits, '-' and '_'"
_COLLECTION = re.compile(r"[a-z0-9_-]{1,64}")


def valid_collection(name: str) -> str:
    """`name` if it is a valid collection name; else ValueError with the rule (pydantic reports it as 422)."""
    if not _COLLECTION.fullmatch(name):
        raise ValueError(f"{name[:80]!r}: {COLLECTION_RULE}")
    return name


#: A scope of user documents: a profile's knowledge (see docs/cortex.md, "Collections"). The schema shows the
#: pattern; the validator (not a pydantic pattern) checks it, so that the error states the rule in words.
CollectionName = Annotated[
    str,
    AfterValidator(valid_collection),
    WithJsonSchema({"type": "string", "pattern": f"^{_COLLECTION.pattern}$", "description": COLLECTION_RULE}),
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class QueryRequest(_Model):
    """A retrieval request: no generation, only context and sources."""

    query: str = Field(min_length=3, max_length=8000)
    mode: QueryMode = "mix"
    top_k: int = Field(default=10, ge=1, le=200)
    lang: LangChoice = "auto"
    collections: list[CollectionName] | None = Field(
        default=None,
        max_length=100,
        description="only documents of these collections, plus the TRIZ knowledge (always); "
        "null: every document and the dialogue memory; []: the TRIZ knowledge alone",
    )


class Source(_Model):
    """One retrieved item that the context was assembled from."""

    id: str
    kind: SourceKind
    title: str
    snippet: str
    score: float
    document: str | None = None
    page: int | None = None


class QueryResult(_Model):
    """The assembled context and its sources; `mode` is the mode that actually ran."""

    query: str
    mode_requested: QueryMode
    mode: QueryMode
    lang: Lang
    context: str
    sources: list[Source]
    keywords: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    elapsed_ms: float = 0.0


class DocumentInfo(_Model):
    """One stored document (or dialogue) and its processing state."""

    id: str
    name: str
    kind: DocumentKind = "document"
    content_type: str
    size: int
    sha256: str
    status: DocumentState
    error: str | None = None
    chunks: int = 0
    tags: list[str] = Field(default_factory=list)
    collection: CollectionName | None = None
    created_at: datetime
    updated_at: datetime


class CortexHealth(_Model):
    """What `/health` reports."""

    status: Literal["ok", "starting", "degraded"]
    reason: str | None = None  # why it is degraded, when CORTEX knows (the database does not answer)
    embedder: str
    dim: int
    documents: int
    knowledge_version: str
    llm: str | None = None
    storage: str
    graph_documents: bool = Field(
        default=False,
        description="whether the graph modes (local, global, hybrid) reach the user's documents: only with an "
        "entity-extraction LLM (CORTEX_LLM_MODEL); without one they search the TRIZ graph alone",
    )


ProblemKind = Literal[
    "missing_chunks", "missing_vectors", "status_mismatch", "orphan_chunks", "orphan_vectors", "unknown_document"
]


class StoreProblem(_Model):
    """One inconsistency between CORTEX's document list and LightRAG's stores."""

    kind: ProblemKind
    document: str | None = None
    detail: str
    rows: list[str] = Field(default_factory=list, description="the chunk or vector ids concerned")


class CheckReport(_Model):
    """What `synapse cortex check` found, and what `--repair` did about it."""

    documents: int
    processed: int
    unfinished: int = Field(description="pending or processing: a running CORTEX is on them; a stopped one redoes them")
    deleting: int = Field(description="deleted documents whose traces are still being removed")
    chunks: int | None = Field(description="rows of the chunk store; null when its storage cannot be listed")
    vectors: int | None = Field(description="rows of the chunk vector store; null when its storage cannot be listed")
    problems: list[StoreProblem]
    repaired: bool = False
    requeued: list[str] = Field(default_factory=list, description="documents queued to be processed again")
