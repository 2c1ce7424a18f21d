"""Turning a dialect's request into the connector's TurnRequest, with the request limits applied."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from synapse.agent import RagOptions, TurnPlan, TurnRequest
from synapse.api.errors import ApiError
from synapse.config import SynapseSettings
from synapse.llm import ChatMessage, GenerationOptions, ResponseFormat, ToolChoice, ToolSpec

Role = Literal["system", "user", "assistant", "tool"]


def check_limits(settings: SynapseSettings, n_messages: int, max_tokens: int | None) -> int:
    """The max_tokens to use; 422 when the message count or max_tokens is over the configured limit."""
    if n_messages > settings.max_messages:
        raise ApiError(
            422,
            f"too many messages: {n_messages}, the limit is {settings.max_messages} (SYNAPSE_MAX_MESSAGES)",
            "too_many_messages",
        )
    wanted = max_tokens if max_tokens is not None and max_tokens > 0 else settings.default_max_tokens
    if wanted > settings.max_tokens_limit:
        raise ApiError(
            422,
            f"max_tokens {wanted} is above the limit {settings.max_tokens_limit} (SYNAPSE_MAX_TOKENS_LIMIT)",
            "max_tokens_too_large",
        )
    return wanted


@dataclass(frozen=True)
class TurnInput:
    """A chat request in the connector's terms, whatever the dialect; None leaves a value to the settings."""

    model: str
    messages: list[ChatMessage]
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    repeat_penalty: float | None = None
    stop: str | list[str] | None = None
    seed: int | None = None
    rag: RagOptions | None = None
    conversation_id: str | None = None
    tools: list[ToolSpec] = field(default_factory=list)
    tool_choice: ToolChoice = field(default_factory=ToolChoice)
    parallel_tool_calls: bool = True
    response_format: ResponseFormat | None = None


def build_turn(settings: SynapseSettings, given: TurnInput) -> TurnRequest:
    """A TurnRequest with the request limits applied (roles `developer` count as `system`)."""
    wanted = check_limits(settings, len(given.messages), given.max_tokens)
    stops = [given.stop] if isinstance(given.stop, str) else list(given.stop or [])
    options = GenerationOptions(
        max_tokens=wanted,
        # What the request leaves open is the model's default, which the backend knows.
        temperature=given.temperature,
        top_p=given.top_p,
        top_k=given.top_k,
        repeat_penalty=given.repeat_penalty,
        stop=[s for s in stops if s],
        seed=given.seed,
        tools=given.tools,
        tool_choice=given.tool_choice,
        parallel_tool_calls=given.parallel_tool_calls,
        response_format=given.response_format,
    )
    if not given.messages:
        raise ApiError(422, "messages must not be empty", "invalid_request")
    return TurnRequest(
        messages=list(given.messages),
        model=given.model,
        rag=given.rag,
        options=options,
        conversation_id=given.conversation_id,
    )


def chat_message(role: str, content: str) -> ChatMessage:
    """A plain message of a dialect's role (`developer` is OpenAI's newer name for `system`)."""
    return ChatMessage(role="system" if role == "developer" else role, content=content)  # type: ignore[arg-type]


def extras(plan: TurnPlan) -> dict[str, object]:
    """The fields SYNAPSE adds to every answer: sources, warnings, TRIZ analysis, retrieval, routing."""
    return {
        "sources": [s.model_dump(mode="json") for s in plan.sources],
        "warnings": list(plan.warnings),
        "triz": plan.triz.model_dump(mode="json") if plan.triz else None,
        "retrieval": plan.retrieval.model_dump(mode="json"),
        "routing": {
            "backend": plan.backend,
            "model": plan.model,
            "route": plan.route,
            "score": plan.route_score,
            "profile": plan.profile,
        },
    }
