"""OpenAI-compatible routes: GET /v1/models, POST /v1/chat/completions (plain and SSE streaming)."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from synapse.agent import Agent, TurnPlan
from synapse.api.body import CheckedRoute
from synapse.api.deps import get_agent, get_limiter, get_settings
from synapse.api.embeddings import embedding_cards
from synapse.api.errors import error_payload
from synapse.api.limits import ConcurrencyLimiter
from synapse.api.openai_answer import Chunks, answer_message, delta_pieces, finish_reason, usage
from synapse.api.openai_request import as_request_error, check_grammar, check_output, turn_input
from synapse.api.openapi_docs import GENERATION, OPENAI_BODY, openai_errors, streamed
from synapse.api.redact import without_paths
from synapse.api.schemas_openai import ChatCompletion, ChatCompletionRequest, ModelCard, ModelList
from synapse.api.streaming import SSE_DONE, sse
from synapse.api.turn_runner import Completed, StreamSpec, run_turn
from synapse.api.turns import build_turn, check_limits, extras
from synapse.config import SynapseSettings
from synapse.errors import SynapseError
from synapse.llm import ChatResult, InvalidToolChoiceError, StreamDelta, UnsupportedSchemaError

router = APIRouter(prefix="/v1", tags=["openai"], route_class=CheckedRoute)
_AUTO_DESCRIPTION = "picks the agent profile closest to the question (its knowledge, prompt and documents)"


@router.get("/models", response_model=ModelList, responses=openai_errors(401))
async def list_models(agent: Agent = Depends(get_agent)) -> ModelList:  # noqa: B008
    """The agent models (each profile, then `auto`), then every model of every healthy backend."""
    now = int(time.time())
    profiles = agent.profiles.profiles
    cards = [
        ModelCard(
            id=name,
            created=now,
            owned_by="synapse",
            description=profiles[name].description if name in profiles else _AUTO_DESCRIPTION,
        )
        for name in agent.agent_models
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


async def _events(agent: Agent, plan: TurnPlan, chunks: Chunks, path: str) -> AsyncIterator[bytes]:
    # The first chunk carries the sources and the analysis, so a UI can show them before the tokens.
    yield sse({**chunks.chunk({"role": "assistant", "content": ""}), **extras(plan)})
    final = StreamDelta(done=True, finish_reason="stop")
    try:
        async for delta in agent.stream(plan):
            for piece in delta_pieces(delta):
                yield sse(chunks.chunk(piece))
            if delta.done:
                final = delta
    except SynapseError as exc:
        yield sse(error_payload(path, exc.message, exc.code, status=exc.status, hint=exc.hint))
        yield SSE_DONE
        return
    for chunk in chunks.last(final):
        yield sse(chunk)
    yield SSE_DONE


def _answer(plan: TurnPlan, result: ChatResult, cid: str, created: int) -> JSONResponse:
    choice = {
        "index": 0,
        "message": answer_message(result.content, result.tool_calls),
        "finish_reason": finish_reason(result.finish_reason),
    }
    return JSONResponse(
        {
            "id": cid,
            "object": "chat.completion",
            "created": created,
            "model": plan.request_model,
            "choices": [choice],
            "usage": usage(result.prompt_tokens, result.completion_tokens),
            **extras(plan),
        }
    )


@router.post(
    "/chat/completions",
    response_model=None,
    responses={
        **streamed("text/event-stream", 'server-sent events with "stream": true', ChatCompletion),
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
    """Chat through the agent (`triz-agent`, `triz-agent-base`) or straight to a backend model, with tools
    (`tools`, `tool_choice`, `parallel_tool_calls`) and JSON answers (`response_format`)."""
    if body.max_completion_tokens is not None:
        check_limits(settings, len(body.messages), body.max_tokens)  # the one not used must be within limits too
    given = turn_input(body)
    turn = build_turn(settings, given)
    chunks = Chunks(
        f"chatcmpl-{uuid.uuid4().hex[:24]}",
        int(time.time()),
        body.model,
        include_usage=bool(body.stream_options and body.stream_options.include_usage),
    )

    def stream_body(plan: TurnPlan) -> AsyncIterator[bytes]:
        check_grammar(plan)  # raised here, a refused schema is still a 422 and not an event in a 200
        return _events(agent, plan, chunks, request.url.path)

    sse_stream = StreamSpec(
        body=stream_body,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
    try:
        check_output(turn.options)
        done = await run_turn(request, agent, limiter, turn, sse_stream if body.stream else None)
    except (InvalidToolChoiceError, UnsupportedSchemaError) as exc:
        raise as_request_error(exc, given.tools) from exc
    if not isinstance(done, Completed):
        return done
    return _answer(done.plan, done.result, chunks.id, chunks.created)
