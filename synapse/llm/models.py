"""What crosses the LLM backend boundary: messages, tools, options, answers, stream deltas, health."""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Role = Literal["system", "user", "assistant", "tool"]
FinishReason = Literal["stop", "length", "cancelled", "tool_calls"]
BackendKind = Literal["llamacpp", "ollama"]
ToolChoiceMode = Literal["auto", "none", "required", "function"]


def new_call_id() -> str:
    """A fresh tool-call id in OpenAI's style."""
    return "call_" + secrets.token_hex(12)


def _function_part(value: Mapping[str, Any]) -> Mapping[str, Any]:
    """The inner function object of OpenAI's and Ollama's `{"type": "function", "function": {...}}` wrappers."""
    inner = value.get("function")
    return inner if isinstance(inner, Mapping) else value


class ToolSpec(BaseModel):
    """A function the model may call: its name, what it does, and its arguments' JSON schema."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})

    @model_validator(mode="before")
    @classmethod
    def _unwrap(cls, value: Any) -> Any:
        # Both dialects wrap a tool as {"type": "function", "function": {...}}; accept that shape as is.
        if not isinstance(value, Mapping):
            return value
        fields = {k: v for k, v in _function_part(value).items() if v is not None}
        return fields

    def to_wire(self) -> dict[str, Any]:
        """The tool in OpenAI's (and Ollama's) request shape, as chat templates expect it too."""
        function = {"name": self.name, "description": self.description, "parameters": self.parameters}
        return {"type": "function", "function": function}


class ToolCall(BaseModel):
    """One call the model made: an id, the function's name and its arguments (a JSON object)."""

    id: str = Field(default_factory=new_call_id)
    name: str = Field(min_length=1)
    arguments: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _unwrap(cls, value: Any) -> Any:
        # OpenAI's {"id", "type", "function": {"name", "arguments"}} and Ollama's {"function": {...}}.
        if not isinstance(value, Mapping) or not isinstance(value.get("function"), Mapping):
            return value
        inner = value["function"]
        fields = {"name": inner.get("name"), "arguments": inner.get("arguments")}
        return {**fields, "id": value["id"]} if value.get("id") else fields

    @field_validator("arguments", mode="before")
    @classmethod
    def _parse_arguments(cls, value: Any) -> Any:
        # OpenAI sends arguments as a JSON string, Ollama as an object.
        if value is None or value == "":
            return {}
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError as exc:
                raise ValueError(f"tool call arguments are not JSON: {exc}") from exc
        return value

    @classmethod
    def from_wire(cls, value: Mapping[str, Any]) -> ToolCall:
        """A call in OpenAI's `{"id", "type", "function": {"name", "arguments"}}` or Ollama's shape."""
        return cls.model_validate(value)

    def arguments_json(self) -> str:
        """The arguments as the JSON text OpenAI's `function.arguments` carries."""
        return json.dumps(self.arguments, ensure_ascii=False)

    def to_wire(self) -> dict[str, Any]:
        """The call as chat templates and Ollama expect it (arguments as an object)."""
        return {"id": self.id, "type": "function", "function": {"name": self.name, "arguments": self.arguments}}


class ToolCallDelta(BaseModel):
    """Progress of a streamed call in OpenAI's delta shape: the first piece has id and name, later ones
    add argument text; concatenating the `arguments` of one `index` gives the call's arguments JSON."""

    index: int = Field(ge=0)
    id: str | None = None
    name: str | None = None
    arguments: str = ""


class ToolChoice(BaseModel):
    """Whether the model may (`auto`), must not (`none`) or must (`required`) call a tool, or which one."""

    model_config = ConfigDict(frozen=True)

    mode: ToolChoiceMode = "auto"
    #: The function that must be called when `mode` is `function`.
    function: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_wire(cls, value: Any) -> Any:
        # "auto" | "none" | "required" | {"type": "function", "function": {"name": ...}} | {"name": ...}
        if isinstance(value, str):
            return {"mode": value} if value in ("auto", "none", "required") else {"mode": "function", "function": value}
        if isinstance(value, Mapping) and "mode" not in value and {"type", "function", "name"} & set(value):
            name = _function_part(value).get("name")
            return {"mode": "function", "function": name}
        return value

    @model_validator(mode="after")
    def _check(self) -> ToolChoice:
        if (self.mode == "function") != bool(self.function):
            raise ValueError("tool_choice names a function exactly when its mode is 'function'")
        return self


class ResponseFormat(BaseModel):
    """A JSON answer: any JSON object (`json_object`) or one that validates against `json_schema`."""

    type: Literal["json_object", "json_schema"]
    json_schema: dict[str, Any] | None = None
    name: str | None = None
    strict: bool | None = None

    @model_validator(mode="after")
    def _check(self) -> ResponseFormat:
        if self.type == "json_schema" and self.json_schema is None:
            raise ValueError("response_format json_schema needs a schema")
        return self

    @classmethod
    def from_openai(cls, value: Mapping[str, Any] | None) -> ResponseFormat | None:
        """OpenAI's `response_format`: `{"type": "text" | "json_object"}` or `{"type": "json_schema", ...}`."""
        if value is None or value.get("type") == "text":
            return None
        if value.get("type") == "json_schema":
            spec = value.get("json_schema") or {}
            return cls(
                type="json_schema", json_schema=spec.get("schema"), name=spec.get("name"), strict=spec.get("strict")
            )
        return cls.model_validate(value)

    @classmethod
    def from_ollama(cls, value: str | Mapping[str, Any] | None) -> ResponseFormat | None:
        """Ollama's `format`: `""`/None (text), `"json"`, or a JSON schema."""
        if value is None or value == "":
            return None
        if isinstance(value, str):
            if value != "json":
                raise ValueError(f"format must be 'json' or a JSON schema, not {value!r}")
            return cls(type="json_object")
        return cls(type="json_schema", json_schema=dict(value))


class ChatMessage(BaseModel):
    """One message of a conversation; assistant messages may carry tool calls, tool messages answer one."""

    model_config = ConfigDict(extra="ignore")

    role: Role
    content: str = ""
    #: The calls an assistant message made.
    tool_calls: list[ToolCall] = Field(default_factory=list)
    #: Which call a tool message answers, and the tool's name (Ollama's `tool_name`).
    tool_call_id: str | None = None
    name: str | None = None

    @field_validator("content", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        # OpenAI sends `content: null` on an assistant message that only calls tools.
        return "" if value is None else value


class GenerationOptions(BaseModel):
    """Sampling options shared by every backend (each maps them to its own names), tools and answer format."""

    max_tokens: int = Field(default=512, ge=1)
    # None: the model's own default (synapse/llm/sampling.py), not a fixed value.
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    top_k: int | None = Field(default=None, ge=0)
    repeat_penalty: float | None = Field(default=None, gt=0.0)
    stop: list[str] = Field(default_factory=list)
    seed: int | None = None
    tools: list[ToolSpec] = Field(default_factory=list)
    tool_choice: ToolChoice = Field(default_factory=ToolChoice)
    parallel_tool_calls: bool = True
    response_format: ResponseFormat | None = None
    #: How long the backend keeps the model loaded after this request (Ollama's `keep_alive`: seconds, or a
    #: duration such as "5m"; 0 unloads, negative keeps it); None leaves it to the backend.
    keep_alive: float | str | None = None
    #: Who asks (an API key's hash or an address, set by the API): batches admit clients in turn.
    client: str = ""


class StreamDelta(BaseModel):
    """A piece of a streamed answer; the last one has `done` set, the finish reason, the calls and the counts."""

    content: str = ""
    #: Streamed progress of tool calls (OpenAI's delta shape).
    tool_call_deltas: list[ToolCallDelta] = Field(default_factory=list)
    done: bool = False
    finish_reason: FinishReason | None = None
    #: On the last delta: every call of the answer, complete.
    tool_calls: list[ToolCall] = Field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0


class ChatResult(BaseModel):
    """A complete answer with its tool calls and token counts."""

    content: str
    model: str
    finish_reason: FinishReason
    prompt_tokens: int
    completion_tokens: int
    tool_calls: list[ToolCall] = Field(default_factory=list)
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
    #: The backend's own digest of the model, where it has one (Ollama's).
    digest: str | None = None


class LoadedModel(BaseModel):
    """A model a backend holds in memory now, with its footprint (an entry of Ollama's /api/ps)."""

    name: str
    size: int = 0
    size_vram: int = 0
    digest: str | None = None
    #: When the backend unloads it; None: it stays loaded while the server runs.
    expires_at: datetime | None = None
    context_length: int | None = None
    family: str | None = None
    parameter_size: str | None = None
    quantization: str | None = None
    #: As in BackendHealth: sequences decoded at once, and in use now (not in Ollama's own /api/ps).
    slots: int | None = None
    slots_in_use: int | None = None


#: A Modelfile parameter's values (`stop` may repeat).
ParameterValues = list[str | int | float | bool]


class ModelCard(BaseModel):
    """What a backend knows of a model beyond its name: chat template, default parameters, metadata, abilities."""

    template: str | None = None
    parameters: dict[str, ParameterValues] = Field(default_factory=dict)
    #: GGUF-style metadata (`general.architecture`, `<arch>.context_length`, ...).
    model_info: dict[str, Any] = Field(default_factory=dict)
    #: Ollama's capability names (`completion`, `tools`, `embedding`, ...); None when the backend does not say.
    capabilities: list[str] | None = None


class BackendHealth(BaseModel):
    """One backend's state for the health view."""

    backend: BackendKind
    status: Literal["ok", "down"]
    detail: str = ""
    models: list[str] = Field(default_factory=list)
    demo: bool = False
    #: Requests the backend decodes at once (the embedded backend's SYNAPSE_PARALLEL), and how many run now.
    slots: int | None = None
    slots_in_use: int | None = None
    #: The embedded backend's llama.cpp contexts over its base: one per adapter in use so far, up to
    #: SYNAPSE_ADAPTER_CONTEXTS.
    contexts: int | None = None
