"""Fitting the prompt into the model's context window: what goes first when tokens run out."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel

from synapse.agent.prompts import assemble_system
from synapse.errors import SynapseError
from synapse.llm.models import ChatMessage

#: Tokens a chat template adds around each message (role markers, separators), counted generously.
PER_MESSAGE_OVERHEAD = 8
TEMPLATE_OVERHEAD = 16


class ContextOverflowError(SynapseError):
    """The question alone does not fit in the model's context window."""

    status = 400


class FittedPrompt(BaseModel):
    messages: list[ChatMessage]
    tokens: int
    kept_blocks: int
    dropped_messages: int
    max_tokens: int


def fit_prompt(
    *,
    system: str,
    triz: str,
    blocks: list[str],
    context_head: Callable[[list[str]], str],
    history: list[ChatMessage],
    question: ChatMessage,
    window: int,
    max_tokens: int,
    count: Callable[[str], int],
    min_answer: int = 64,
) -> FittedPrompt:
    """Drop oldest history, then the lowest-ranked sources, until prompt + answer fit in `window`.

    The system text, the TRIZ analysis and the question always stay; when even they leave less than
    `max_tokens` the answer gets what remains (at least `min_answer`), else ContextOverflowError.
    """

    def cost(msg: ChatMessage) -> int:
        return count(msg.content) + PER_MESSAGE_OVERHEAD

    fixed = TEMPLATE_OVERHEAD + cost(question) + count(assemble_system(system, triz, "")) + PER_MESSAGE_OVERHEAD
    if fixed + min_answer > window:
        raise ContextOverflowError(
            f"the question needs about {fixed} tokens; the model's context holds {window}",
            "shorten the message, or raise the context (SYNAPSE_N_CTX)",
        )
    answer = min(max_tokens, window - fixed)
    budget = window - answer - fixed
    kept: list[str] = []
    block_costs = [count(b) + 2 for b in blocks]
    head = count(context_head(["x"])) if blocks else 0
    history_costs = [cost(m) for m in history]
    # History is taken newest first, then sources best first; each stops at the first that does not fit.
    kept_history: list[ChatMessage] = []
    used = head if blocks else 0
    # Sources first claim up to half the budget so a long history cannot crowd out retrieval entirely.
    half = budget // 2
    for block, c in zip(blocks, block_costs, strict=True):
        if used + c > half:
            break
        kept.append(block)
        used += c
    for msg, c in zip(reversed(history), reversed(history_costs), strict=True):
        if used + c > budget:
            break
        kept_history.insert(0, msg)
        used += c
    for block, c in zip(blocks[len(kept) :], block_costs[len(kept) :], strict=True):
        if used + c > budget:
            break
        kept.append(block)
        used += c
    if not kept and blocks:
        used -= head
    system_msg = ChatMessage(role="system", content=assemble_system(system, triz, context_head(kept) if kept else ""))
    messages = [system_msg, *kept_history, question]
    return FittedPrompt(
        messages=messages,
        tokens=fixed + used,
        kept_blocks=len(kept),
        dropped_messages=len(history) - len(kept_history),
        max_tokens=answer,
    )
