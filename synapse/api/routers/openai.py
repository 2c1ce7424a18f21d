"""OpenAI-compatible routes: GET /v1/models, POST /v1/chat/completions (plain and SSE streaming)."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from synapse.agent import AGENT_MODELS, TRIZ_AGENT, Agent, TurnPlan
from synapse.api.body import CheckedRoute
from synapse.api.deps import get_agent, get_limiter, get_settings
from synapse.api.embeddings import embedding_cards
from synapse.api.errors import error_payload
from synapse.api.limits import ConcurrencyLimiter
from synapse.api.openapi_docs import GENERATION, OPENAI_BODY, openai_errors, streamed
from synapse.api.redact import without_paths
from synapse.api.schemas_openai import ChatCompletionRequest, ModelCard, ModelList
from synapse.api.streaming import SSE_DONE, sse
from synapse.api.turn_runner import Completed, StreamSpec, run_turn
from synapse.api.turns import TurnInput, build_turn, chat_message, check_limits, extras
from synapse.config import SynapseSettings
from synapse.errors import SynapseError

router = APIRouter(prefix="/v1", tags=["openai"], route_class=CheckedRoute)
_DESCRIPTIONS = {
    TRIZ_AGENT: "TRIZ model with retrieval from CORTEX and the TRIZ analyzer",
    "triz-agent-base": "baseline model with the same retrieval and analysis",
}


@router.get("/models", response_model=ModelList, responses=openai_errors(401))
async def list_models(agent: Agent = Depends(get_agent)) -> ModelList:  # noqa: B008
    """The agent models, then every model of every healthy backend."""
    now = int(time.time())
    cards = [
        ModelCard(id=name, created=now, owned_by="synapse", description=_DESCRIPTIONS[name]) for name in AGENT_MODELS
    ]
    for m in await agent.raw_models():
        cards.append(
            ModelCard(
                id=m.name,
                created=now,
                owned_by=m.backend,
                extra=without_paths(m.model_dump(exclude={"name"}, mode="json")),
            )
        )
    cards += await embedding_cards(agent, now)
    return ModelList(data=cards)


def _chunk(cid: str, created: int, model: str, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


async def _events(agent: Agent, plan: TurnPlan, cid: str, created: int, path: str) -> AsyncIterator[bytes]:
    model = plan.request_model
    # The first chunk carries the sources and the analysis, so a UI can show them before the tokens.
    yield sse({**_chunk(cid, created, model, {"role": "assistant", "content": ""}), **extras(plan)})
    prompt = completion = 0
    finish = "stop"
    try:
        async for delta in agent.stream(plan):
            if delta.content:
                yield sse(_chunk(cid, created, model, {"content": delta.content}))
            if delta.done:
                prompt, completion = delta.prompt_tokens, delta.completion_tokens
                finish = "length" if delta.finish_reason == "length" else "stop"
    except SynapseError as exc:
        yield sse(error_payload(path, exc.message, exc.code, status=exc.status, hint=exc.hint))
        yield SSE_DONE
        return
    last = _chunk(cid, created, model, {}, finish)
    last["usage"] = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    yield sse(last)
    yield SSE_DONE


@router.post(
    "/chat/completions",
    response_model=None,
    responses={
        **streamed("text/event-stream", 'server-sent events with "stream": true'),
        **openai_errors(*OPENAI_BODY, *GENERATION),
    },
)
async def chat_completions(
    body: ChatCompletionRequest,
    request: Request,
    agent: Agent = Depends(get_agent),  # noqa: B008
    settings: SynapseSettings = Depends(get_settings),  # noqa: B008
    limiter: ConcurrencyLimiter = Depends(get_limiter),  # noqa: B008
) -> Response:
    """Chat through the agent (`triz-agent`, `triz-agent-base`) or straight to a backend model."""
    if body.max_completion_tokens is not None:
        check_limits(settings, len(body.messages), body.max_tokens)  # the one not used must be within limits too
    given = TurnInput(
        body.model,
        [chat_message(m.role, m.text()) for m in body.messages],
        max_tokens=body.max_completion_tokens or body.max_tokens,
        temperature=body.temperature,
        top_p=body.top_p,
        stop=body.stop,
        seed=body.seed,
        rag=body.rag,
        conversation_id=body.user,
    )
    turn = build_turn(settings, given)
    cid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())
    sse_stream = StreamSpec(
        body=lambda plan: _events(agent, plan, cid, created, request.url.path),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
    done = await run_turn(request, agent, limiter, turn, sse_stream if body.stream else None)
    if not isinstance(done, Completed):
        return done
    plan, result = done.plan, done.result
    usage = {
        "prompt_tokens": result.prompt_tokens,
        "completion_tokens": result.completion_tokens,
        "total_tokens": result.prompt_tokens + result.completion_tokens,
    }
    return JSONResponse(
        {
            "id": cid,
            "object": "chat.completion",
            "created": created,
            "model": plan.request_model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": result.content},
                    "finish_reason": "length" if result.finish_reason == "length" else "stop",
                }
            ],
            "usage": usage,
            **extras(plan),
        }
    )
