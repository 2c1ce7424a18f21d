"""Ollama-compatible routes, so Open WebUI or n8n can add SYNAPSE as an Ollama server."""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from synapse import __version__
from synapse.agent import AGENT_MODELS, Agent, TurnPlan, TurnRequest
from synapse.api.body import CheckedRoute
from synapse.api.deps import get_agent, get_limiter, get_settings
from synapse.api.embeddings import embedding_show, embedding_tags
from synapse.api.errors import ApiError
from synapse.api.limits import ConcurrencyLimiter
from synapse.api.openapi_docs import GENERATION, OLLAMA_BODY, ollama_errors, streamed
from synapse.api.schemas_ollama import OllamaChatRequest, OllamaGenerateRequest, OllamaOptions, OllamaShowRequest
from synapse.api.streaming import ndjson
from synapse.api.turn_runner import Completed, StreamSpec, run_turn
from synapse.api.turns import TurnInput, build_turn, chat_message, check_limits, extras
from synapse.config import SynapseSettings
from synapse.errors import SynapseError
from synapse.llm import ModelInfo

router = APIRouter(prefix="/api", tags=["ollama"], route_class=CheckedRoute)
#: The Ollama API version SYNAPSE speaks (clients check it before using newer fields).
OLLAMA_API_VERSION = "0.6.5"
_NDJSON = streamed("application/x-ndjson", 'NDJSON lines unless "stream": false')


def _now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def _model_name(name: str) -> str:
    # Ollama clients often add the default tag; SYNAPSE's agent models have none.
    return name[: -len(":latest")] if name.endswith(":latest") and name[:-7] in AGENT_MODELS else name


def _digest(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def _tag(name: str, info: ModelInfo | None) -> dict[str, Any]:
    family = (info.family if info else None) or "synapse-agent"
    return {
        "name": name,
        "model": name,
        "modified_at": _now(),
        "size": (info.size if info else None) or 0,
        "digest": _digest(name),
        "details": {
            "parent_model": "",
            "format": "gguf",
            "family": family,
            "families": [family],
            "parameter_size": "",
            "quantization_level": (info.quantization if info else None) or "",
        },
    }


@router.get("/version", responses=ollama_errors(401))
async def version() -> dict[str, str]:
    return {"version": OLLAMA_API_VERSION, "synapse": __version__}


@router.get("/tags", responses=ollama_errors(401))
async def tags(agent: Agent = Depends(get_agent)) -> dict[str, Any]:  # noqa: B008
    models = [_tag(name, None) for name in AGENT_MODELS]
    models += [_tag(m.name, m) for m in await agent.raw_models()]
    models += await embedding_tags(agent)
    return {"models": models}


@router.post("/show", responses=ollama_errors(*OLLAMA_BODY, 404))
async def show(body: OllamaShowRequest, agent: Agent = Depends(get_agent)) -> dict[str, Any]:  # noqa: B008
    name = _model_name(body.model or body.name or "")
    if not name:
        raise ApiError(422, "model is required", "invalid_request")
    if (embedder := await embedding_show(agent, name)) is not None:
        return embedder
    raw = {m.name: m for m in await agent.raw_models()}
    if name not in AGENT_MODELS and name not in raw:
        raise ApiError(404, f"model '{name}' not found", "model_not_found")
    info = raw.get(name)
    tag = _tag(name, info)
    return {
        "modelfile": f"# served by SYNAPSE {__version__}\nFROM {name}\n",
        "parameters": "",
        "template": "{{ .Prompt }}",
        "details": tag["details"],
        "model_info": {
            "general.architecture": tag["details"]["family"],
            "context_length": info.context_window if info else None,
        },
        "capabilities": ["completion"],
        "modified_at": tag["modified_at"],
    }


def _options(opts: OllamaOptions | None) -> dict[str, Any]:
    o = opts or OllamaOptions()
    return {
        "max_tokens": o.num_predict if o.num_predict and o.num_predict > 0 else None,
        "temperature": o.temperature,
        "top_p": o.top_p,
        "stop": o.stop,
        "seed": o.seed,
    }


def _final(
    model: str, plan: TurnPlan, started: float, first: float | None, prompt: int, completion: int, reason: str
) -> dict[str, Any]:
    end = time.perf_counter()
    total = int((end - started) * 1e9)
    eval_ns = int((end - (first or end)) * 1e9)
    return {
        "model": model,
        "created_at": _now(),
        "done": True,
        "done_reason": reason,
        "total_duration": total,
        "load_duration": 0,
        "prompt_eval_count": prompt,
        "prompt_eval_duration": max(total - eval_ns, 0),
        "eval_count": completion,
        "eval_duration": eval_ns,
        **extras(plan),
    }


async def _ndjson(agent: Agent, plan: TurnPlan, model: str, kind: str, started: float) -> AsyncIterator[bytes]:
    def piece(text: str) -> dict[str, Any]:
        if kind == "chat":
            return {
                "model": model,
                "created_at": _now(),
                "message": {"role": "assistant", "content": text},
                "done": False,
            }
        return {"model": model, "created_at": _now(), "response": text, "done": False}

    # As on /v1, the first line carries sources and analysis before any token.
    yield ndjson({**piece(""), **extras(plan)})
    prompt = completion = 0
    reason = "stop"
    first: float | None = None
    try:
        async for delta in agent.stream(plan):
            if delta.content:
                first = first or time.perf_counter()
                yield ndjson(piece(delta.content))
            if delta.done:
                prompt, completion = delta.prompt_tokens, delta.completion_tokens
                reason = "length" if delta.finish_reason == "length" else "stop"
    except SynapseError as exc:
        yield ndjson({"error": str(exc)})
        return
    final = _final(model, plan, started, first, prompt, completion, reason)
    if kind == "chat":
        final["message"] = {"role": "assistant", "content": ""}
    else:
        final["response"] = ""
        final["context"] = []
    yield ndjson(final)


async def _serve(
    request: Request,
    agent: Agent,
    limiter: ConcurrencyLimiter,
    turn: TurnRequest,
    *,
    model: str,
    kind: str,
    stream: bool,
) -> Response:
    started = time.perf_counter()
    lines = StreamSpec(body=lambda plan: _ndjson(agent, plan, model, kind, started), media_type="application/x-ndjson")
    done = await run_turn(request, agent, limiter, turn, lines if stream else None)
    if not isinstance(done, Completed):
        return done
    plan, result, first = done.plan, done.result, done.generation_started
    reason = "length" if result.finish_reason == "length" else "stop"
    body = _final(model, plan, started, first, result.prompt_tokens, result.completion_tokens, reason)
    if kind == "chat":
        body["message"] = {"role": "assistant", "content": result.content}
    else:
        body["response"] = result.content
        body["context"] = []
    return JSONResponse(body)


def _loaded(model: str, kind: str) -> JSONResponse:
    # Ollama answers an empty chat or prompt by loading the model; SYNAPSE's models are always loaded.
    body: dict[str, Any] = {"model": model, "created_at": _now(), "done": True, "done_reason": "load"}
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
    """Chat in Ollama's dialect: NDJSON stream by default, one JSON object with "stream": false."""
    if not body.messages:
        check_limits(settings, 0, _options(body.options)["max_tokens"])  # a bad option is bad even here
        return _loaded(body.model, "chat")
    messages = [chat_message(m.role, m.content) for m in body.messages]
    turn = build_turn(settings, TurnInput(_model_name(body.model), messages, rag=body.rag, **_options(body.options)))
    return await _serve(request, agent, limiter, turn, model=body.model, kind="chat", stream=body.stream)


@router.post("/generate", response_model=None, responses={**_NDJSON, **ollama_errors(*OLLAMA_BODY, *GENERATION)})
async def generate(
    body: OllamaGenerateRequest,
    request: Request,
    agent: Agent = Depends(get_agent),  # noqa: B008
    settings: SynapseSettings = Depends(get_settings),  # noqa: B008
    limiter: ConcurrencyLimiter = Depends(get_limiter),  # noqa: B008
) -> Response:
    """One prompt in Ollama's generate dialect (the system text, if any, goes first)."""
    if not body.prompt.strip():
        check_limits(settings, 0, _options(body.options)["max_tokens"])
        return _loaded(body.model, "generate")
    system = [chat_message("system", body.system)] if body.system else []
    messages = [*system, chat_message("user", body.prompt)]
    turn = build_turn(settings, TurnInput(_model_name(body.model), messages, rag=body.rag, **_options(body.options)))
    return await _serve(request, agent, limiter, turn, model=body.model, kind="generate", stream=body.stream)
