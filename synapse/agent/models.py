"""What the connector takes and gives: a turn request, and the plan with sources, TRIZ and retrieval facts."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from cortex.models import Source
from synapse.lang import Lang
from synapse.llm.models import ChatMessage, GenerationOptions
from synapse.triz.models import Candidate

RagMode = Literal["off", "naive", "local", "global", "hybrid", "mix"]

#: The agent models that the API lists: TRIZ model with retrieval, and the baseline model with retrieval.
TRIZ_AGENT = "triz-agent"
BASE_AGENT = "triz-agent-base"
AGENT_MODELS = (TRIZ_AGENT, BASE_AGENT)


class RagOptions(BaseModel):
    """Per-request retrieval switch: a mode (`off` disables) and how many sources to take."""

    model_config = ConfigDict(extra="forbid")

    mode: RagMode | None = None
    top_k: int | None = Field(default=None, ge=1, le=50)


class TurnRequest(BaseModel):
    """One chat turn as the connector receives it (from any API dialect or the CLI)."""

    messages: list[ChatMessage] = Field(min_length=1)
    model: str = TRIZ_AGENT
    rag: RagOptions | None = None
    options: GenerationOptions = Field(default_factory=GenerationOptions)
    conversation_id: str | None = None


class TrizInfo(BaseModel):
    """The contradiction the analyzer found in the question and the matrix principles for it."""

    contradictions: list[Candidate]
    lang: Lang
    message: str | None = None


class RetrievalInfo(BaseModel):
    """What retrieval did for this turn."""

    mode: RagMode
    mode_requested: RagMode
    elapsed_ms: float
    count: int
    #: The whole preparation before generation: retrieval, TRIZ analysis, routing, prompt fitting.
    plan_ms: float = 0.0


class TurnPlan(BaseModel):
    """Everything decided before generation: the prompt, the model, and what the answer will carry."""

    request_model: str
    backend: str
    model: str
    route: Literal["triz", "base", "raw"]
    lang: Lang
    messages: list[ChatMessage]
    options: GenerationOptions
    sources: list[Source] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    triz: TrizInfo | None = None
    retrieval: RetrievalInfo
    prompt_tokens: int = 0
    dropped_messages: int = 0
    dropped_sources: int = 0
    route_score: float | None = None
    #: The agent profile that answers (None for a backend model called by name) and its CORTEX collections.
    profile: str | None = None
    collections: list[str] | None = None
    #: The conversation as the caller sent it (for memory), and its id if the caller gave one.
    conversation: list[ChatMessage] = Field(default_factory=list, exclude=True)
    conversation_id: str | None = Field(default=None, exclude=True)
