"""What crosses the LLM backend boundary: messages, options, answers, stream deltas, health."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["system", "user", "assistant", "tool"]
FinishReason = Literal["stop", "length", "cancelled"]
BackendKind = Literal["llamacpp", "ollama"]


class ChatMessage(BaseModel):
    """One message of a conversation."""

    model_config = ConfigDict(extra="ignore")

    role: Role
    content: str = ""


class GenerationOptions(BaseModel):
    """Sampling options shared by every backend (each maps them to its own names)."""

    max_tokens: int = Field(default=512, ge=1)
    temperature: float = Field(default=0.3, ge=0.0, le=2.0)
    top_p: float = Field(default=0.95, gt=0.0, le=1.0)
    stop: list[str] = Field(default_factory=list)
    seed: int | None = None


class StreamDelta(BaseModel):
    """A piece of a streamed answer; the last one has `done` set, the finish reason and the counts."""

    content: str = ""
    done: bool = False
    finish_reason: FinishReason | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0


class ChatResult(BaseModel):
    """A complete answer with its token counts."""

    content: str
    model: str
    finish_reason: FinishReason
    prompt_tokens: int
    completion_tokens: int
    warnings: list[str] = Field(default_factory=list)


class ModelInfo(BaseModel):
    """A model that a backend can serve."""

    name: str
    backend: BackendKind
    context_window: int | None = None
    size: int | None = None
    family: str | None = None
    quantization: str | None = None
    demo: bool = False
    path: str | None = None


class BackendHealth(BaseModel):
    """One backend's state for the health view."""

    backend: BackendKind
    status: Literal["ok", "down"]
    detail: str = ""
    models: list[str] = Field(default_factory=list)
    demo: bool = False
