"""Ollama-compatible routes, so Open WebUI or n8n can add SYNAPSE as an Ollama server."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from synapse import __version__
from synapse.agent import Agent, TurnPlan, TurnRequest
from synapse.api.body import CheckedRoute
from synapse.api.deps import get_agent, get_limiter, get_settings
from synapse.api.embeddings import embedding_show, embedding_tags
from synapse.api.errors import ApiError
from synapse.api.limits import ConcurrencyLimiter
from synapse.api.ollama_answer import Counts, Dialect, answer_lines, whole_answer
from synapse.api.ollama_models import now, running, tag
from synapse.api.ollama_models import show as show_model
from synapse.api.ollama_wire import answer_format, chat_messages, keep_alive, sampling, tool_specs
from synapse.api.openapi_docs import GENERATION, OLLAMA_BODY, ollama_errors, streamed
from synapse.api.schemas_ollama import (
    KeepAlive,
    OllamaChatRequest,
    OllamaGenerateRequest,
    OllamaRunning,
    OllamaShowRequest,
)
from synapse.api.turn_runner import Completed, StreamSpec, run_turn
from synapse.api.turns import TurnInput, build_turn, chat_message, check_limits
from synapse.config import SynapseSettings

router = APIRouter(prefix="/api", tags=["ollama"], route_class=CheckedRoute)
#: The Ollama API version SYNAPSE speaks (clients check it before using newer fields).
OLLAMA_API_VERSION = "0.6.5"
_NDJSON = streamed("application/x-ndjson", 'NDJSON lines unless "stream": false')


def _model_name(name: str, agent: Agent) -> str:
    # Ollama clients often add the default tag; SYNAPSE's agent models have none.
    return name[: -len(":latest")] if name.endswith(":latest") and name[:-7] in agent.agent_models else name


@router.get("/version", responses=ollama_errors(401))
async def version() -> dict[str, str]:
    return {"version": OLLAMA_API_VERSION, "synapse": __version__}


@router.get("/tags", responses=ollama_errors(401))
async def tags(agent: Agent = Depends(get_agent)) -> dict[str, Any]:  # noqa: B008
    models = [tag(name, None) for name in agent.agent_models]
    models += [tag(m.name, m) for m in await agent.raw_models()]
    models += await embedding_tags(agent)
    return {"models": models}


@router.post("/show", responses=ollama_errors(*OLLAMA_BODY, 404))
async def show(body: OllamaShowRequest, agent: Agent = Depends(get_agent)) -> dict[str, Any]:  # noqa: B008
    """The model's details, template, parameters, metadata (`<arch>.context_length`) and capabilities."""
    name = _model_name(body.model or body.name or "", agent)
    if not name:
        raise ApiError(422, "model is required", "invalid_request")
    if (embedder := await embedding_show(agent, name)) is not None:
        return embedder
    raw = {m.name: m for m in await agent.raw_models()}
    if name not in agent.agent_models and name not in raw:
        raise ApiError(404, f"model '{name}' not found", "model_not_found")
    return await show_model(agent, name, raw.get(name))


@router.get("/ps", response_model=OllamaRunning, responses=ollama_errors(401))
async def ps(agent: Agent = Depends(get_agent)) -> dict[str, Any]:  # noqa: B008
    """The models loaded now: the agent models whose model is loaded, and what each backend holds
    (the embedded GGUF; Ollama's own /api/ps)."""
    return {"models": await running(agent)}


def _with_keep_alive(turn: TurnRequest, value: KeepAlive) -> TurnRequest:
    # Ollama unloads or keeps its model as asked; the embedded model stays loaded whatever is sent.
    wanted = keep_alive(value)
    if wanted is None:
        return turn
    return turn.model_copy(update={"options": turn.options.model_copy(update={"keep_alive": wanted})})


async def _serve(
    request: Request,
    agent: Agent,
    limiter: ConcurrencyLimiter,
    turn: TurnRequest,
    dialect: Dialect,
) -> Response:
    started = time.perf_counter()

    def lines(plan: TurnPlan) -> Any:
        # Tools and formats the backend cannot serve are refused (422) before the 200 of a stream.
        agent.backends.backends[plan.backend].check_options(plan.options)
        return answer_lines(agent, plan, dialect, started)

    spec = StreamSpec(body=lines, media_type="application/x-ndjson")
    done = await run_turn(request, agent, limiter, turn, spec if dialect.streamed else None)
    if not isinstance(done, Completed):
        return done
    result = done.result
    counts = Counts(
        result.prompt_tokens, result.completion_tokens, result.finish_reason, started, done.generation_started
    )
    return JSONResponse(whole_answer(dialect, done.plan, result.content, result.tool_calls, counts))


def _loaded(model: str, kind: str) -> JSONResponse:
    # Ollama answers an empty chat or prompt by loading the model; SYNAPSE's models are always loaded.
    body: dict[str, Any] = {"model": model, "created_at": now(), "done": True, "done_reason": "load"}
    body.update({"message": {"role": "assistant", "content": ""}} if kind == "chat" else {"response": ""})
    return JSONResponse(body)


@router.post("/chat", response_model=None, responses={**_NDJSON, **ollama_errors(*OLLAMA_BODY, *GENERATION)})
async def chat(
    body: OllamaChatRequest,
    request: Request,
    agent: Agent = Depends(get_agent),  # noqa: B008
    settings: SynapseSettings = Depends(get_settings),  # noqa: B008
    limiter: ConcurrencyLimiter = Depends(get_limiter),  # noqa: B008
) -> Response:
    """Chat in Ollama's dialect: NDJSON stream by default, one JSON object with "stream": false.

    `tools` may be called (`message.tool_calls`, arguments as an object); `format` ("json" or a JSON
    schema) constrains the answer; `keep_alive` reaches an Ollama backend and is ignored by the embedded one.
    """
    if not body.messages:
        check_limits(settings, 0, sampling(body.options)["max_tokens"])  # a bad option is bad even here
        return _loaded(body.model, "chat")
    given = TurnInput(
        _model_name(body.model, agent),
        chat_messages(body.messages),
        rag=body.rag,
        tools=tool_specs(body.tools),
        response_format=answer_format(body.format),
        **sampling(body.options),
    )
    turn = _with_keep_alive(build_turn(settings, given), body.keep_alive)
    return await _serve(request, agent, limiter, turn, Dialect(body.model, "chat", body.stream))


@router.post("/generate", response_model=None, responses={**_NDJSON, **ollama_errors(*OLLAMA_BODY, *GENERATION)})
async def generate(
    body: OllamaGenerateRequest,
    request: Request,
    agent: Agent = Depends(get_agent),  # noqa: B008
    settings: SynapseSettings = Depends(get_settings),  # noqa: B008
    limiter: ConcurrencyLimiter = Depends(get_limiter),  # noqa: B008
) -> Response:
    """One prompt in Ollama's generate dialect (the system text, if any, goes first); `format` as in chat."""
    if not body.prompt.strip():
        check_limits(settings, 0, sampling(body.options)["max_tokens"])
        return _loaded(body.model, "generate")
    system = [chat_message("system", body.system)] if body.system else []
    messages = [*system, chat_message("user", body.prompt)]
    fmt = answer_format(body.format)
    given = TurnInput(
        _model_name(body.model, agent), messages, rag=body.rag, response_format=fmt, **sampling(body.options)
    )
    turn = _with_keep_alive(build_turn(settings, given), body.keep_alive)
    return await _serve(request, agent, limiter, turn, Dialect(body.model, "generate", body.stream))
