"""Ollama's request fields in the connector's terms, and the answer's message in Ollama's shape.

Ollama links a tool result to its call by the tool's name (`tool_name`), newer clients by `tool_call_id`;
a result that names neither answers the next call still unanswered, in order, as Ollama's templates read it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from synapse.api.schemas_ollama import (
    OllamaFormat,
    OllamaMessage,
    OllamaOptions,
    OllamaTool,
    OllamaToolCall,
)
from synapse.llm import ChatMessage, FinishReason, ResponseFormat, ToolCall, ToolSpec

_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)$")


def sampling(opts: OllamaOptions | None) -> dict[str, Any]:
    """Ollama's `options` as TurnInput fields (a num_predict of 0 or below means no limit of the client's)."""
    o = opts or OllamaOptions()
    return {
        "max_tokens": o.num_predict if o.num_predict and o.num_predict > 0 else None,
        "temperature": o.temperature,
        "top_p": o.top_p,
        "top_k": o.top_k,
        "repeat_penalty": o.repeat_penalty,
        "stop": o.stop,
        "seed": o.seed,
    }


def tool_specs(tools: Sequence[OllamaTool] | None) -> list[ToolSpec]:
    """The request's tools (an empty list is no tools)."""
    specs = []
    for tool in tools or []:
        fields: dict[str, Any] = {"name": tool.function.name, "description": tool.function.description or ""}
        if tool.function.parameters is not None:
            fields["parameters"] = tool.function.parameters
        specs.append(ToolSpec(**fields))
    return specs


def answer_format(value: OllamaFormat) -> ResponseFormat | None:
    """Ollama's `format`: "json" (any JSON object), a JSON schema, or nothing."""
    return ResponseFormat.from_ollama(value)


def keep_alive(value: float | str | None) -> float | str | None:
    """keep_alive as Ollama reads it: a number of seconds stays a number ("300" too), a duration stays text."""
    if isinstance(value, str) and _NUMBER.match(value):
        return float(value)
    return value


def _call(call: OllamaToolCall) -> ToolCall:
    fields: dict[str, Any] = {"name": call.function.name, "arguments": call.function.arguments}
    return ToolCall(**fields, id=call.id) if call.id else ToolCall(**fields)


def _answered(message: OllamaMessage, pending: list[ToolCall]) -> ToolCall | None:
    """The pending call a tool result answers: by call id, else by the tool's name, else the next one."""
    for i, call in enumerate(pending):
        by_id = message.tool_call_id is not None and call.id == message.tool_call_id
        by_name = message.tool_call_id is None and (message.tool_name in (None, call.name))
        if by_id or by_name:
            return pending.pop(i)
    return None


def chat_messages(messages: Sequence[OllamaMessage]) -> list[ChatMessage]:
    """The conversation as the connector takes it, calls and tool results linked by call id."""
    out: list[ChatMessage] = []
    pending: list[ToolCall] = []
    for message in messages:
        content = message.content or ""
        if message.role == "tool":
            call = _answered(message, pending)
            out.append(
                ChatMessage(
                    role="tool",
                    content=content,
                    tool_call_id=call.id if call else message.tool_call_id,
                    name=message.tool_name or (call.name if call else None),
                )
            )
            continue
        calls = [_call(c) for c in message.tool_calls or []] if message.role == "assistant" else []
        if calls:
            pending = list(calls)
        out.append(ChatMessage(role=message.role, content=content, tool_calls=calls))
    return out


def wire_calls(calls: Sequence[ToolCall]) -> list[dict[str, Any]]:
    """Calls in Ollama's answer shape: `{"id", "function": {"index", "name", "arguments" (an object)}}`."""
    return [
        {"id": c.id, "function": {"index": i, "name": c.name, "arguments": c.arguments}} for i, c in enumerate(calls)
    ]


def assistant_message(content: str, calls: Sequence[ToolCall] = ()) -> dict[str, Any]:
    """An answer's `message`; `tool_calls` only when the model called tools."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = wire_calls(calls)
    return message


def done_reason(finish: FinishReason | None) -> str:
    """Ollama's done_reason: "length" when cut off at num_predict, else "stop" (after tool calls too)."""
    return "length" if finish == "length" else "stop"
