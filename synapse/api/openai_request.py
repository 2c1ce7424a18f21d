"""An OpenAI chat request in the connector's terms: messages with tool calls, tools, tool choice, answer format.

What the tool layer refuses (a schema that is not JSON Schema or that constrained decoding cannot
express, a tool_choice the tools cannot satisfy) comes back as a 422 whose `param` names the field.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from synapse.agent import TurnPlan
from synapse.api.errors import ApiError
from synapse.api.schemas_openai import (
    AnswerFormat,
    ChatCompletionRequest,
    FunctionTool,
    JsonObjectFormat,
    JsonSchemaFormat,
    MessageToolCall,
    NamedToolChoice,
    OAMessage,
)
from synapse.api.turns import TurnInput
from synapse.llm import (
    ChatMessage,
    GenerationOptions,
    InvalidToolChoiceError,
    LLMError,
    ResponseFormat,
    ToolCall,
    ToolChoice,
    ToolSpec,
    UnsupportedSchemaError,
)
from synapse.llm.output import plan_output


def _invalid(param: str, problem: str) -> ApiError:
    return ApiError(422, f"invalid request: {param}: {problem}", "invalid_request", param=param)


def _arguments(call: MessageToolCall, where: str) -> dict[str, Any]:
    text = call.function.arguments
    try:
        value = json.loads(text) if text.strip() else {}
    except ValueError as exc:
        raise _invalid(where, f"the arguments are not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise _invalid(where, "the arguments must be a JSON object")
    return value


def _message(message: OAMessage, i: int) -> ChatMessage:
    where = f"messages.{i}"
    if message.tool_calls and message.role != "assistant":
        raise _invalid(f"{where}.tool_calls", "only assistant messages carry tool calls")
    if message.role == "tool" and not message.tool_call_id:
        raise _invalid(f"{where}.tool_call_id", "a tool message names the call it answers")
    calls = [
        ToolCall(id=c.id, name=c.function.name, arguments=_arguments(c, f"{where}.tool_calls.{j}.function.arguments"))
        for j, c in enumerate(message.tool_calls or [])
    ]
    is_tool = message.role == "tool"
    return ChatMessage(
        role="system" if message.role == "developer" else message.role,
        content=message.text(),
        tool_calls=calls,
        tool_call_id=message.tool_call_id if is_tool else None,
        name=message.name if is_tool else None,
    )


def chat_messages(messages: Sequence[OAMessage]) -> list[ChatMessage]:
    """The messages as the connector takes them; calls and tool results stay structured, not flattened."""
    return [_message(m, i) for i, m in enumerate(messages)]


def tool_specs(tools: Sequence[FunctionTool]) -> list[ToolSpec]:
    """The request's functions; a name used twice is a 422 naming the second."""
    seen: set[str] = set()
    out: list[ToolSpec] = []
    for i, tool in enumerate(tools):
        fn = tool.function
        if fn.name in seen:
            raise _invalid(f"tools.{i}.function.name", f"two tools are named {fn.name!r}")
        seen.add(fn.name)
        fields = {"name": fn.name, "description": fn.description, "parameters": fn.parameters}
        out.append(ToolSpec.model_validate({k: v for k, v in fields.items() if v is not None}))
    return out


def tool_choice(value: str | NamedToolChoice | None) -> ToolChoice:
    if value is None:
        return ToolChoice()
    if isinstance(value, NamedToolChoice):
        return ToolChoice(mode="function", function=value.function.name)
    return ToolChoice.model_validate(value)


def response_format(value: AnswerFormat | None) -> ResponseFormat | None:
    """`text` (or none) is free text; `json_object` any JSON object; `json_schema` JSON valid against its schema."""
    if isinstance(value, JsonObjectFormat):
        return ResponseFormat(type="json_object")
    if isinstance(value, JsonSchemaFormat):
        spec = value.json_schema
        if spec.json_schema is None:  # OpenAI lets the schema out: then any JSON object will do
            return ResponseFormat(type="json_object", name=spec.name, strict=spec.strict)
        return ResponseFormat(type="json_schema", json_schema=spec.json_schema, name=spec.name, strict=spec.strict)
    return None


def turn_input(body: ChatCompletionRequest) -> TurnInput:
    """The request as the connector's TurnInput (limits are applied by `build_turn`)."""
    return TurnInput(
        body.model,
        chat_messages(body.messages),
        max_tokens=body.max_completion_tokens or body.max_tokens,
        temperature=body.temperature,
        top_p=body.top_p,
        top_k=body.top_k,
        repeat_penalty=body.repeat_penalty or body.repetition_penalty,
        stop=body.stop,
        seed=body.seed,
        rag=body.rag,
        conversation_id=body.user,
        tools=tool_specs(body.tools or []),
        tool_choice=tool_choice(body.tool_choice),
        parallel_tool_calls=body.parallel_tool_calls is not False,
        response_format=response_format(body.response_format),
    )


def output_param(exc: LLMError, tools: Sequence[ToolSpec]) -> str | None:
    """The request field a tool-layer refusal is about."""
    if isinstance(exc, InvalidToolChoiceError):
        return "tool_choice"
    if not isinstance(exc, UnsupportedSchemaError):
        return None
    if exc.message.startswith("response_format"):
        return "response_format.json_schema.schema"
    for i, tool in enumerate(tools):
        if exc.message.startswith(f"tool {tool.name!r} parameters"):
            return f"tools.{i}.function.parameters"
    return "tools"


def as_request_error(exc: LLMError, tools: Sequence[ToolSpec]) -> ApiError:
    """A tool-layer refusal as the 422 a client of OpenAI's API expects, with `param` set."""
    return ApiError(exc.status, exc.message, exc.code, param=output_param(exc, tools), hint=exc.hint)


def check_output(options: GenerationOptions) -> None:
    """Refuse tools, a tool_choice or a response format that no backend can honour, before any work starts."""
    plan_output(options)


def check_grammar(plan: TurnPlan) -> None:
    """For the embedded backend, build the decoding grammar now: a schema it cannot express is then a 422
    before a stream starts rather than an error event inside it."""
    if plan.backend != "llamacpp":
        return
    from synapse.llm.grammars import grammar_for

    grammar_for(plan_output(plan.options))
