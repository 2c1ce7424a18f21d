"""Ollama-compatible request bodies (what Open WebUI, n8n and the `ollama` client send)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from synapse.api.schemas_common import RagRequest


class OllamaMessage(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    role: Literal["system", "user", "assistant", "tool"]
    content: str = ""


class OllamaOptions(BaseModel):
    """The sampling options SYNAPSE maps; other Ollama options are accepted and ignored."""

    model_config = ConfigDict(extra="allow", strict=True)

    num_predict: int | None = None
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    stop: list[str] | None = None
    seed: int | None = None


_QUESTION = "How can a crane boom get stronger without getting heavier?"


class OllamaChatRequest(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        strict=True,
        json_schema_extra={
            "examples": [
                {"model": "triz-agent", "messages": [{"role": "user", "content": _QUESTION}], "stream": False},
                {"model": "triz-agent:latest", "messages": [{"role": "user", "content": _QUESTION}]},
            ]
        },
    )

    model: str = Field(min_length=1)
    messages: list[OllamaMessage] = Field(default_factory=list)
    stream: bool = True
    options: OllamaOptions | None = None
    format: Any = None
    keep_alive: Any = None
    rag: RagRequest | None = None


class OllamaGenerateRequest(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        strict=True,
        json_schema_extra={
            "examples": [
                {"model": "triz-agent", "prompt": _QUESTION, "stream": False},
                {"model": "triz-agent", "prompt": _QUESTION, "system": "Answer briefly."},
            ]
        },
    )

    model: str = Field(min_length=1)
    prompt: str = ""
    system: str | None = None
    stream: bool = True
    options: OllamaOptions | None = None
    raw: bool = False
    keep_alive: Any = None
    rag: RagRequest | None = None


_NAMED: JsonDict = {"type": "string", "minLength": 1}


class OllamaShowRequest(BaseModel):
    """`model` (or the older `name`) names the model; one of them is required."""

    model_config = ConfigDict(
        extra="allow",
        strict=True,
        json_schema_extra={
            "anyOf": [
                {"required": ["model"], "properties": {"model": _NAMED}},
                {"required": ["name"], "properties": {"name": _NAMED}},
            ],
            "examples": [{"model": "triz-agent"}],
        },
    )

    model: str | None = None
    name: str | None = None
