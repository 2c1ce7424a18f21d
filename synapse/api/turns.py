"""Turning a dialect's request into the connector's TurnRequest, with the request limits applied."""

from __future__ import annotations

from typing import Literal

from synapse.agent import RagOptions, TurnPlan, TurnRequest
from synapse.api.errors import ApiError
from synapse.config import SynapseSettings
from synapse.llm import ChatMessage, GenerationOptions

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


def build_turn(
    settings: SynapseSettings,
    *,
    model: str,
    messages: list[tuple[str, str]],
    max_tokens: int | None,
    temperature: float | None,
    top_p: float | None,
    stop: str | list[str] | None,
    seed: int | None,
    rag: RagOptions | None,
    conversation_id: str | None = None,
) -> TurnRequest:
    """A TurnRequest from plain values (roles `developer` count as `system`)."""
    wanted = check_limits(settings, len(messages), max_tokens)
    stops = [stop] if isinstance(stop, str) else list(stop or [])
    options = GenerationOptions(
        max_tokens=wanted,
        temperature=0.3 if temperature is None else temperature,
        top_p=0.95 if top_p is None else top_p,
        stop=[s for s in stops if s],
        seed=seed,
    )
    chat: list[ChatMessage] = []
    for role, content in messages:
        chat.append(ChatMessage(role="system" if role == "developer" else role, content=content))  # type: ignore[arg-type]
    if not chat:
        raise ApiError(422, "messages must not be empty", "invalid_request")
    return TurnRequest(messages=chat, model=model, rag=rag, options=options, conversation_id=conversation_id)


def extras(plan: TurnPlan) -> dict[str, object]:
    """The fields SYNAPSE adds to every answer: sources, warnings, TRIZ analysis, retrieval, routing."""
    return {
        "sources": [s.model_dump(mode="json") for s in plan.sources],
        "warnings": list(plan.warnings),
        "triz": plan.triz.model_dump(mode="json") if plan.triz else None,
        "retrieval": plan.retrieval.model_dump(mode="json"),
        "routing": {"backend": plan.backend, "model": plan.model, "route": plan.route, "score": plan.route_score},
    }
