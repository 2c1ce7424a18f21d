"""An answer in Ollama's /api/chat and /api/generate shapes: NDJSON lines while streaming, or one object.

As Ollama streams them, tool calls come in a line of their own (`message.tool_calls`, content empty) before
the final line; the final line has `done`, `done_reason` and the counts: `prompt_eval_count` is the whole
prompt the model read (tools block included), `eval_count` every token it wrote (calls included).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from synapse.agent import Agent, TurnPlan
from synapse.api.ollama_models import now
from synapse.api.ollama_wire import assistant_message, done_reason
from synapse.api.streaming import ndjson
from synapse.api.turns import extras
from synapse.errors import SynapseError
from synapse.llm import FinishReason, StreamDelta, ToolCall


@dataclass(frozen=True)
class Counts:
    """What the final line reports: token counts, why generation ended, and when it began and wrote first."""

    prompt: int
    completion: int
    finish: FinishReason | None
    started: float
    first: float | None


@dataclass(frozen=True)
class Dialect:
    """How the route answers: `chat` in `message`, `generate` in `response`; streamed or as one object."""

    model: str
    kind: Literal["chat", "generate"]
    streamed: bool = True

    def text(self, content: str, calls: Sequence[ToolCall] = ()) -> dict[str, Any]:
        if self.kind == "chat":
            return {"message": assistant_message(content, calls)}
        return {"response": content}

    def piece(self, content: str, calls: Sequence[ToolCall] = ()) -> dict[str, Any]:
        return {"model": self.model, "created_at": now(), **self.text(content, calls), "done": False}

    def final(self, plan: TurnPlan, counts: Counts) -> dict[str, Any]:
        end = time.perf_counter()
        total = int((end - counts.started) * 1e9)
        eval_ns = int((end - (counts.first or end)) * 1e9)
        body: dict[str, Any] = {
            "model": self.model,
            "created_at": now(),
            "done": True,
            "done_reason": done_reason(counts.finish),
            "total_duration": total,
            "load_duration": 0,
            "prompt_eval_count": counts.prompt,
            "prompt_eval_duration": max(total - eval_ns, 0),
            "eval_count": counts.completion,
            "eval_duration": eval_ns,
            **extras(plan),
        }
        return {**body, **self.text(""), **({"context": []} if self.kind == "generate" else {})}


async def answer_lines(agent: Agent, plan: TurnPlan, dialect: Dialect, started: float) -> AsyncIterator[bytes]:
    """The streamed answer; an error after the first line arrives as an `{"error": ...}` line, as in Ollama."""
    # As on /v1, the first line carries sources and analysis before any token.
    yield ndjson({**dialect.piece(""), **extras(plan)})
    final = StreamDelta(done=True, finish_reason="stop")
    first: float | None = None
    try:
        async for delta in agent.stream(plan):
            if first is None and (delta.content or delta.tool_call_deltas):
                first = time.perf_counter()
            if delta.content:
                yield ndjson(dialect.piece(delta.content))
            if delta.done:
                final = delta
    except SynapseError as exc:
        yield ndjson({"error": str(exc)})
        return
    if final.tool_calls and dialect.kind == "chat":
        yield ndjson(dialect.piece("", final.tool_calls))
    counts = Counts(final.prompt_tokens, final.completion_tokens, final.finish_reason, started, first)
    yield ndjson(dialect.final(plan, counts))


def whole_answer(
    dialect: Dialect, plan: TurnPlan, content: str, calls: Sequence[ToolCall], counts: Counts
) -> dict[str, Any]:
    """The answer as one object ("stream": false)."""
    return {**dialect.final(plan, counts), **dialect.text(content, calls)}
