"""What a request asks of the answer (tools, a forced call, JSON), and turning generated text into deltas.

Both backends plan with `plan_output`; the embedded backend feeds its text through `OutputCollector`,
which streams plain text, turns `<tool_call>` blocks into calls, and checks calls and JSON answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from synapse.llm.errors import InvalidToolChoiceError, StructuredOutputError
from synapse.llm.models import FinishReason, GenerationOptions, ResponseFormat, StreamDelta, ToolCall, ToolSpec
from synapse.llm.structured import first_error, schema_of, validate_answer, validator
from synapse.llm.tool_calls import CallBlock, ToolCallSplitter, call_deltas, render_call


@dataclass(frozen=True)
class OutputPlan:
    """The tools shown to the model, those it may call, whether it must, and the answer's JSON format."""

    prompt_tools: list[ToolSpec] = field(default_factory=list)
    callable: dict[str, ToolSpec] = field(default_factory=dict)
    forced: bool = False
    parallel: bool = True
    response_format: ResponseFormat | None = None


def plan_output(options: GenerationOptions) -> OutputPlan:
    """The plan for `options`; a tool_choice the tools cannot satisfy or an invalid schema is a 422."""
    fmt = options.response_format
    if fmt is not None:
        validator(schema_of(fmt), "response_format")
    choice = options.tool_choice
    if choice.mode == "none" or not options.tools:
        if choice.mode in ("required", "function"):
            raise InvalidToolChoiceError(
                f"tool_choice {choice.function or choice.mode!r} needs tools", "send the tools or drop tool_choice"
            )
        return OutputPlan(response_format=fmt)
    names = [t.name for t in options.tools]
    if len(set(names)) != len(names):
        raise InvalidToolChoiceError("two tools have the same name", "give every tool its own name")
    for tool in options.tools:
        validator(tool.parameters, f"tool {tool.name!r} parameters")
    allowed = options.tools
    if choice.mode == "function":
        allowed = [t for t in options.tools if t.name == choice.function]
        if not allowed:
            raise InvalidToolChoiceError(
                f"tool_choice names {choice.function!r}, which is not among the tools", f"use one of {names}"
            )
    return OutputPlan(
        prompt_tools=list(allowed),
        callable={t.name: t for t in allowed},
        forced=choice.mode != "auto",
        parallel=options.parallel_tool_calls,
        response_format=fmt,
    )


def call_problem(plan: OutputPlan, call: ToolCall) -> str | None:
    """Why `call` is not a valid call under `plan`, or None when it is."""
    tool = plan.callable.get(call.name)
    if tool is None:
        return f"the model called {call.name!r}, which is not among the tools {sorted(plan.callable)}"
    problem = first_error(tool.parameters, call.arguments, f"tool {call.name!r} parameters")
    return f"the arguments of {call.name!r} do not match its schema {problem}" if problem else None


def _repeats(call: ToolCall, calls: Sequence[ToolCall]) -> bool:
    return any(c.name == call.name and c.arguments == call.arguments for c in calls)


class OutputCollector:
    """Generated text in, stream deltas out: plain text as it comes, tool calls once complete."""

    def __init__(self, plan: OutputPlan) -> None:
        self.plan = plan
        self.calls: list[ToolCall] = []
        self._text: list[str] = []
        self._splitter = ToolCallSplitter() if plan.callable else None
        self._truncated = False

    def feed(self, text: str) -> list[StreamDelta]:
        if self._splitter is None:
            self._text.append(text)
            return [StreamDelta(content=text)] if text else []
        return self._pieces(self._splitter.feed(text))

    def _pieces(self, pieces: Sequence[str | CallBlock]) -> list[StreamDelta]:
        out: list[StreamDelta] = []
        for piece in pieces:
            text = piece if isinstance(piece, str) else self._block(piece, out)
            if text:
                self._text.append(text)
                out.append(StreamDelta(content=text))
        return out

    def _block(self, block: CallBlock, out: list[StreamDelta]) -> str:
        """Adds the block's call to `out` and returns "", or returns the block as text when it is no call."""
        call = block.call
        if not block.closed and self._truncated and self.calls and call is None:
            return ""  # a further call cut off at max_tokens: the complete ones stand
        problem = (
            call_problem(self.plan, call)
            if call is not None
            else "the model wrote a <tool_call> block that is not a JSON call"
        )
        if call is None or problem:
            if self.plan.forced:
                raise StructuredOutputError(problem or "no call", "retry, or simplify the tool's schema")
            return block.raw
        if self.calls and (not self.plan.parallel or _repeats(call, self.calls)):
            return ""  # only the first call counts without parallel calls; a repeated call adds nothing
        self.calls.append(call)
        out.extend(StreamDelta(tool_call_deltas=[d]) for d in call_deltas(call, len(self.calls) - 1))
        return ""

    def add_call(self, call: ToolCall) -> list[StreamDelta]:
        """A call the backend parsed itself (Ollama), checked like one the model wrote as text."""
        return self._pieces([CallBlock(raw=render_call(call), call=call)])

    def finish(self, *, truncated: bool, prompt_tokens: int, completion_tokens: int) -> list[StreamDelta]:
        """The last deltas, ending with the done one; raises StructuredOutputError for a missing call or
        an answer that is not the requested JSON."""
        self._truncated = truncated
        out = self._pieces(self._splitter.finish()) if self._splitter is not None else []
        if self.plan.forced and not self.calls:
            cut = " (cut off at max_tokens)" if truncated else ""
            raise StructuredOutputError(f"the model made no complete tool call{cut}", "raise max_tokens or retry")
        if not self.calls and self.plan.response_format is not None:
            validate_answer("".join(self._text), self.plan.response_format, truncated=truncated)
        reason: FinishReason = "tool_calls" if self.calls else "length" if truncated else "stop"
        done = StreamDelta(
            done=True,
            finish_reason=reason,
            tool_calls=list(self.calls),
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
        )
        return [*out, done]
