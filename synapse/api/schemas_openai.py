"""OpenAI-compatible request and response bodies, with SYNAPSE's extra fields."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from cortex.models import Source
from synapse.agent import RetrievalInfo, TrizInfo
from synapse.api.schemas_common import RagRequest


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    type: str
    text: str | None = None


class OAMessage(BaseModel):
    """A chat message; content may be a string or a list of parts (only text parts are used)."""

    model_config = ConfigDict(extra="allow", strict=True)

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text or "" for p in self.content if p.type == "text")


_QUESTION: JsonDict = {"role": "user", "content": "How can a crane boom get stronger without getting heavier?"}


class ChatCompletionRequest(BaseModel):
    """POST /v1/chat/completions; unknown OpenAI parameters are accepted and ignored."""

    model_config = ConfigDict(
        extra="allow",
        strict=True,
        json_schema_extra={
            "examples": [
                {"model": "triz-agent", "messages": [_QUESTION]},
                {"model": "triz-agent", "messages": [_QUESTION], "stream": True, "rag": {"mode": "naive", "top_k": 4}},
            ]
        },
    )

    model: str = Field(min_length=1)
    messages: list[OAMessage] = Field(min_length=1)
    stream: bool = False
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    stop: str | list[str] | None = None
    seed: int | None = None
    user: str | None = None
    rag: RagRequest | None = None


class Routing(BaseModel):
    """Which backend and model answered, and why."""

    backend: str
    model: str
    route: str
    score: float | None = None


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class AgentExtras(BaseModel):
    """The fields SYNAPSE adds to OpenAI's answers (first chunk when streaming)."""

    sources: list[Source]
    warnings: list[str]
    triz: TrizInfo | None
    retrieval: RetrievalInfo
    routing: Routing


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str
    description: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]
