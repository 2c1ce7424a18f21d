"""Fitting the prompt into the model's context window: what goes first when tokens run out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel

from synapse.agent.prompts import assemble_system
from synapse.errors import SynapseError
from synapse.llm.models import ChatMessage

#: Tokens a chat template adds around each message (role markers, separators), counted generously.
PER_MESSAGE_OVERHEAD = 8
TEMPLATE_OVERHEAD = 16
T = TypeVar("T")


class ContextOverflowError(SynapseError):
    """The question alone does not fit in the model's context window."""

    status = 400


class FittedPrompt(BaseModel):
    messages: list[ChatMessage]
    tokens: int
    kept_blocks: int
    dropped_messages: int
    max_tokens: int


@dataclass(frozen=True)
class PromptParts:
    """What goes into a prompt: the system text and TRIZ section (always kept), the context blocks best
    first, the history oldest first, and the turn (always kept): the user's question and what followed it
    in an agent loop (the assistant's tool calls and the tool results); `context_head` frames the kept blocks."""

    system: str
    triz: str
    blocks: list[str]
    context_head: Callable[[list[str]], str]
    history: list[ChatMessage]
    turn: list[ChatMessage]
    #: Text the backend adds to the prompt on its own (the tools block), counted like the system text.
    backend_text: str = ""


def _take(items: list[T], costs: list[int], used: int, limit: int) -> tuple[list[T], int]:
    """Items in order until the first that would pass `limit`; the tokens used after them."""
    kept: list[T] = []
    for item, c in zip(items, costs, strict=True):
        if used + c > limit:
            break
        kept.append(item)
        used += c
    return kept, used


def fit_prompt(
    parts: PromptParts, *, window: int, max_tokens: int, count: Callable[[str], int], min_answer: int = 64
) -> FittedPrompt:
    """Drop oldest history, then the lowest-ranked sources, until prompt + answer fit in `window`.

    The system text, the TRIZ analysis and the question always stay; when even they leave less than
    `max_tokens` the answer gets what remains (at least `min_answer`), else ContextOverflowError.
    """

    def cost(msg: ChatMessage) -> int:
        calls = "".join(f"{call.name}{call.arguments_json()}" for call in msg.tool_calls)
        return count(msg.content + calls) + PER_MESSAGE_OVERHEAD

    blocks, history = parts.blocks, parts.history
    turn = sum(cost(m) for m in parts.turn)
    system = count(assemble_system(parts.system, parts.triz, "")) + (
        count(parts.backend_text) if parts.backend_text else 0
    )
    fixed = TEMPLATE_OVERHEAD + turn + system + PER_MESSAGE_OVERHEAD
    if fixed + min_answer > window:
        raise ContextOverflowError(
            f"the question needs about {fixed} tokens; the model's context holds {window}",
            "shorten the message, or raise the context (SYNAPSE_N_CTX)",
        )
    answer = min(max_tokens, window - fixed)
    budget = window - answer - fixed
    block_costs = [count(b) + 2 for b in blocks]
    head = count(parts.context_head(["x"])) if blocks else 0
    # Sources first claim up to half the budget so a long history cannot crowd out retrieval entirely;
    # then history newest first, then the remaining sources best first, each up to the first that does not fit.
    kept, used = _take(blocks, block_costs, head, budget // 2)
    newest_first, used = _take(history[::-1], [cost(m) for m in history[::-1]], used, budget)
    more, used = _take(blocks[len(kept) :], block_costs[len(kept) :], used, budget)
    kept += more
    if not kept and blocks:
        used -= head
    context = parts.context_head(kept) if kept else ""
    system_msg = ChatMessage(role="system", content=assemble_system(parts.system, parts.triz, context))
    return FittedPrompt(
        messages=[system_msg, *newest_first[::-1], *parts.turn],
        tokens=fixed + used,
        kept_blocks=len(kept),
        dropped_messages=len(history) - len(newest_first),
        max_tokens=answer,
    )
