"""OpenAI-compatible request and response bodies, with SYNAPSE's extra fields."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from cortex.models import Source
from synapse.agent import RetrievalInfo, TrizInfo
from synapse.api.schemas_common import RagRequest


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    type: str
    text: str | None = None


#: What OpenAI allows in a function's name (and the tool layer takes).
FUNCTION_NAME = r"^[A-Za-z0-9_.:-]+$"
#: OpenAI's own limit on the functions of one request.
MAX_TOOLS = 128


class CalledFunction(BaseModel):
    """The function an assistant message called; `arguments` is JSON text, as OpenAI sends it."""

    model_config = ConfigDict(extra="allow", strict=True)

    name: str = Field(min_length=1, max_length=64, pattern=FUNCTION_NAME)
    arguments: str


class MessageToolCall(BaseModel):
    """One call in an assistant message of the history."""

    model_config = ConfigDict(extra="allow", strict=True)

    id: str = Field(min_length=1)
    type: Literal["function"] = "function"
    function: CalledFunction


class OAMessage(BaseModel):
    """A chat message; content may be a string or a list of parts (only text parts are used).

    An assistant message may carry `tool_calls` (then `content` may be null); a `tool` message answers the
    call named by `tool_call_id`.
    """

    model_config = ConfigDict(extra="allow", strict=True)

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None
    tool_calls: list[MessageToolCall] | None = None
    tool_call_id: str | None = Field(default=None, min_length=1)
    name: str | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text or "" for p in self.content if p.type == "text")


class FunctionDefinition(BaseModel):
    """A function the model may call; `parameters` is its arguments' JSON schema."""

    model_config = ConfigDict(extra="allow", strict=True)

    name: str = Field(min_length=1, max_length=64, pattern=FUNCTION_NAME)
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class FunctionTool(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    type: Literal["function"]
    function: FunctionDefinition


class FunctionName(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    name: str = Field(min_length=1, max_length=64, pattern=FUNCTION_NAME)


class NamedToolChoice(BaseModel):
    """`tool_choice` that makes the model call this function."""

    model_config = ConfigDict(extra="allow", strict=True)

    type: Literal["function"]
    function: FunctionName


class TextFormat(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    type: Literal["text"]


class JsonObjectFormat(BaseModel):
    """Any JSON object."""

    model_config = ConfigDict(extra="allow", strict=True)

    type: Literal["json_object"]


class JsonSchemaSpec(BaseModel):
    """The schema a JSON answer must validate against (no schema: any JSON object)."""

    model_config = ConfigDict(extra="allow", strict=True)

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    description: str | None = None
    json_schema: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None


class JsonSchemaFormat(BaseModel):
    """A JSON answer that validates against `json_schema.schema`."""

    model_config = ConfigDict(extra="allow", strict=True)

    type: Literal["json_schema"]
    json_schema: JsonSchemaSpec


AnswerFormat = Annotated[TextFormat | JsonObjectFormat | JsonSchemaFormat, Field(discriminator="type")]


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    #: Send a last chunk with `choices: []` and the token usage before `[DONE]`.
    include_usage: bool | None = None


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
    # Not OpenAI's: the names llama.cpp's server takes (vLLM's `repetition_penalty` as well); unset, the
    # model's own defaults apply.
    top_k: int | None = Field(default=None, ge=0)
    repeat_penalty: float | None = Field(default=None, gt=0.0)
    repetition_penalty: float | None = Field(default=None, gt=0.0)
    stop: str | list[str] | None = None
    seed: int | None = None
    user: str | None = None
    tools: list[FunctionTool] | None = Field(default=None, max_length=MAX_TOOLS)
    tool_choice: Literal["auto", "none", "required"] | NamedToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: AnswerFormat | None = None
    stream_options: StreamOptions | None = None
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


class ResponseFunction(BaseModel):
    name: str
    #: The arguments as JSON text (an object).
    arguments: str


class ResponseToolCall(BaseModel):
    id: str
    type: Literal["function"] = "function"
    function: ResponseFunction


class AssistantMessage(BaseModel):
    """The answer: text, or tool calls with `content` null when there is no text beside them."""

    role: Literal["assistant"] = "assistant"
    content: str | None
    #: Present only when the model called tools.
    tool_calls: list[ResponseToolCall] | None = None


class Choice(BaseModel):
    index: int
    message: AssistantMessage
    finish_reason: Literal["stop", "length", "tool_calls"]


class ChatCompletion(AgentExtras):
    """The answer to a non-streamed POST /v1/chat/completions."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage


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
