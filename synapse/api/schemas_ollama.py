"""Ollama-compatible request bodies (what Open WebUI, n8n, LangChain's ChatOllama and the `ollama` client send)."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.config import JsonDict

from synapse.api.schemas_common import RagRequest

#: The most tools one request may bring (OpenAI's limit too).
MAX_TOOLS = 128
#: Ollama's keep_alive: seconds as a number or in a string, or a Go duration ("5m", "1h30m", "-1s").
_DURATION = r"^[-+]?((\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h))+$|^[-+]?(\d+\.?\d*|\.\d+)$"
KeepAlive = float | Annotated[str, Field(pattern=_DURATION)] | None
#: Ollama's format: "json", a JSON schema, or nothing ("" too).
OllamaFormat = Literal["json", ""] | dict[str, Any] | None


class OllamaCallFunction(BaseModel):
    """The function of an assistant's call: its name and arguments (an object; a JSON string is read too)."""

    model_config = ConfigDict(extra="allow", strict=True)

    name: str = Field(min_length=1, max_length=64)
    arguments: dict[str, Any] | str = Field(default_factory=dict)
    index: int | None = None

    @field_validator("arguments")
    @classmethod
    def _object(cls, value: dict[str, Any] | str) -> dict[str, Any] | str:
        if isinstance(value, dict) or not value.strip():
            return value
        try:
            parsed = json.loads(value)
        except ValueError as exc:
            raise ValueError(f"arguments are not JSON: {exc}") from exc
        if not isinstance(parsed, dict):
            raise ValueError("arguments must be a JSON object")
        return value


class OllamaToolCall(BaseModel):
    """A call in an assistant message; `id` is optional (Ollama 0.12 sends one, LangChain its own)."""

    model_config = ConfigDict(extra="allow", strict=True)

    id: str | None = None
    type: Literal["function"] | None = None
    function: OllamaCallFunction


class OllamaMessage(BaseModel):
    """A message; assistant messages may carry `tool_calls`, `tool` messages name the tool (`tool_name`)
    or the call they answer (`tool_call_id`). Images and thinking text are accepted and not read."""

    model_config = ConfigDict(extra="allow", strict=True)

    role: Literal["system", "user", "assistant", "tool"]
    content: str | None = ""
    tool_calls: list[OllamaToolCall] | None = None
    tool_name: str | None = None
    tool_call_id: str | None = None


class OllamaFunction(BaseModel):
    """A function the model may call, with the JSON schema of its arguments."""

    model_config = ConfigDict(extra="allow", strict=True)

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    description: str | None = None
    parameters: dict[str, Any] | None = None


class OllamaTool(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    type: Literal["function"] = "function"
    function: OllamaFunction


class OllamaOptions(BaseModel):
    """The sampling options SYNAPSE maps; other Ollama options are accepted and ignored."""

    model_config = ConfigDict(extra="allow", strict=True)

    num_predict: int | None = None
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    top_k: int | None = Field(default=None, ge=0)
    repeat_penalty: float | None = Field(default=None, gt=0.0)
    stop: list[str] | None = None
    seed: int | None = None


_QUESTION = "How can a crane boom get stronger without getting heavier?"
_WEATHER: JsonDict = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
_WEATHER_Q = "Weather in Oslo?"
_ANSWER: JsonDict = {"type": "object", "properties": {"principle": {"type": "integer"}}, "required": ["principle"]}


class OllamaChatRequest(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        strict=True,
        json_schema_extra={
            "examples": [
                {"model": "triz-agent", "messages": [{"role": "user", "content": _QUESTION}], "stream": False},
                {"model": "triz-agent:latest", "messages": [{"role": "user", "content": _QUESTION}]},
                {"model": "triz-agent", "messages": [{"role": "user", "content": _WEATHER_Q}], "tools": [_WEATHER]},
                {"model": "triz-agent", "messages": [{"role": "user", "content": _QUESTION}], "format": _ANSWER},
            ]
        },
    )

    model: str = Field(min_length=1)
    messages: list[OllamaMessage] = Field(default_factory=list)
    tools: list[OllamaTool] | None = Field(default=None, max_length=MAX_TOOLS)
    stream: bool = True
    options: OllamaOptions | None = None
    format: OllamaFormat = None
    keep_alive: KeepAlive = None
    rag: RagRequest | None = None


class OllamaGenerateRequest(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        strict=True,
        json_schema_extra={
            "examples": [
                {"model": "triz-agent", "prompt": _QUESTION, "stream": False},
                {"model": "triz-agent", "prompt": _QUESTION, "system": "Answer briefly."},
                {"model": "triz-agent", "prompt": _QUESTION, "format": "json", "stream": False},
            ]
        },
    )

    model: str = Field(min_length=1)
    prompt: str = ""
    system: str | None = None
    stream: bool = True
    options: OllamaOptions | None = None
    raw: bool = False
    format: OllamaFormat = None
    keep_alive: KeepAlive = None
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


class OllamaDetails(BaseModel):
    parent_model: str
    format: str
    family: str
    families: list[str]
    parameter_size: str
    quantization_level: str


class OllamaLoadedModel(BaseModel):
    """A model loaded now; `expires_at` is about 292 years ahead for one that stays loaded (Ollama's "Forever")."""

    name: str
    model: str
    size: int
    digest: str
    details: OllamaDetails
    expires_at: str
    size_vram: int
    context_length: int
    #: SYNAPSE's addition for the embedded backend: requests decoded at once, and in use now.
    slots: int | None = None
    slots_in_use: int | None = None


class OllamaRunning(BaseModel):
    """/api/ps: the models loaded now."""

    models: list[OllamaLoadedModel]
