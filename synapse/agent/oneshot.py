"""One question through the agent with the answer streamed to a callback (what `synapse chat` runs)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel

from synapse.agent.connector import Agent
from synapse.agent.models import RagMode, RagOptions, TurnPlan, TurnRequest
from synapse.llm import ChatMessage, GenerationOptions


class Answer(BaseModel):
    """A finished answer with what the agent used and how long it took."""

    text: str
    plan: TurnPlan
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str
    first_token_s: float | None
    total_s: float

    @property
    def tokens_per_s(self) -> float | None:
        """Generation speed after the first token."""
        if self.first_token_s is None or self.completion_tokens < 2:
            return None
        span = self.total_s - self.first_token_s
        return (self.completion_tokens - 1) / span if span > 0 else None


@dataclass(frozen=True)
class AskOptions:
    """How to ask: the model, the retrieval mode (None: the settings'), the answer's length and temperature."""

    model: str = "triz-agent"
    rag: RagMode | None = None
    max_tokens: int = 512
    temperature: float = 0.3


async def ask(
    agent: Agent,
    question: str,
    how: AskOptions | None = None,
    on_plan: Callable[[TurnPlan], None] | None = None,
    on_text: Callable[[str], None] | None = None,
) -> Answer:
    """Plan, then stream the answer to `on_text` piece by piece; returns the whole answer with timings."""
    how = how or AskOptions()
    start = time.perf_counter()
    request = TurnRequest(
        messages=[ChatMessage(role="user", content=question)],
        model=how.model,
        rag=RagOptions(mode=how.rag) if how.rag else None,
        options=GenerationOptions(max_tokens=how.max_tokens, temperature=how.temperature),
    )
    plan = await agent.plan(request)
    if on_plan is not None:
        on_plan(plan)
    parts: list[str] = []
    first: float | None = None
    prompt = completion = 0
    finish = "stop"
    async for delta in agent.stream(plan):
        if delta.content:
            if first is None:
                first = time.perf_counter() - start
            parts.append(delta.content)
            if on_text is not None:
                on_text(delta.content)
        if delta.done:
            prompt, completion = delta.prompt_tokens, delta.completion_tokens
            finish = delta.finish_reason or "stop"
    return Answer(
        text="".join(parts),
        plan=plan,
        prompt_tokens=prompt,
        completion_tokens=completion,
        finish_reason=finish,
        first_token_s=first,
        total_s=time.perf_counter() - start,
    )
