"""Ollama-compatible request bodies (what Open WebUI, n8n and the `ollama` client send)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from synapse.agent import RagOptions


class OllamaMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "user", "assistant", "tool"]
    content: str = ""


class OllamaOptions(BaseModel):
    """The sampling options SYNAPSE maps; other Ollama options are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    num_predict: int | None = None
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    stop: list[str] | None = None
    seed: int | None = None


class OllamaChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1)
    messages: list[OllamaMessage] = Field(default_factory=list)
    stream: bool = True
    options: OllamaOptions | None = None
    format: Any = None
    keep_alive: Any = None
    rag: RagOptions | None = None


class OllamaGenerateRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1)
    prompt: str = ""
    system: str | None = None
    stream: bool = True
    options: OllamaOptions | None = None
    raw: bool = False
    keep_alive: Any = None
    rag: RagOptions | None = None


class OllamaShowRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str | None = None
    name: str | None = None
