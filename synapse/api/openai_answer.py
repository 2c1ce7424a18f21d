"""OpenAI's answer shapes: the message with its tool calls, streamed chunks and tool-call deltas, usage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from synapse.llm import FinishReason, StreamDelta, ToolCall, ToolCallDelta

#: The backend's finish reasons in OpenAI's words (a cancelled answer has no reader; `stop` is the safe word).
_FINISH: dict[str, str] = {"stop": "stop", "length": "length", "tool_calls": "tool_calls", "cancelled": "stop"}


def finish_reason(reason: FinishReason | None) -> str:
    return _FINISH.get(reason or "stop", "stop")


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def wire_call(call: ToolCall) -> dict[str, Any]:
    """A call as OpenAI returns it: the arguments as JSON text."""
    return {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments_json()}}


def answer_message(content: str, calls: Sequence[ToolCall]) -> dict[str, Any]:
    """The assistant message of a complete answer; `content` is null when the answer only calls tools."""
    message: dict[str, Any] = {"role": "assistant", "content": content if content or not calls else None}
    if calls:
        message["tool_calls"] = [wire_call(c) for c in calls]
    return message


def wire_delta(delta: ToolCallDelta) -> dict[str, Any]:
    """One streamed piece of a call: index, id, type and name on the first, argument text on every one."""
    function: dict[str, Any] = {"arguments": delta.arguments}
    out: dict[str, Any] = {"index": delta.index}
    if delta.id is not None:
        out["id"] = delta.id
        out["type"] = "function"
    if delta.name is not None:
        function = {"name": delta.name, **function}
    out["function"] = function
    return out


def delta_pieces(delta: StreamDelta) -> list[dict[str, Any]]:
    """The `delta` objects of the chunks one backend delta becomes (text, tool-call pieces)."""
    pieces: list[dict[str, Any]] = []
    if delta.content:
        pieces.append({"content": delta.content})
    if delta.tool_call_deltas:
        pieces.append({"tool_calls": [wire_delta(d) for d in delta.tool_call_deltas]})
    return pieces


@dataclass(frozen=True)
class Chunks:
    """Builds the chunks of one streamed answer; `include_usage` is the request's stream_options."""

    id: str
    created: int
    model: str
    include_usage: bool = False

    def _head(self) -> dict[str, Any]:
        return {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model}

    def chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**self._head(), "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    def last(self, final: StreamDelta) -> list[dict[str, Any]]:
        """The finishing chunk, then with include_usage OpenAI's usage chunk (`choices: []`); without it the
        usage rides on the finishing chunk, as SYNAPSE always sent it."""
        done = self.chunk({}, finish_reason(final.finish_reason))
        counts = usage(final.prompt_tokens, final.completion_tokens)
        if not self.include_usage:
            return [{**done, "usage": counts}]
        return [done, {**self._head(), "choices": [], "usage": counts}]
