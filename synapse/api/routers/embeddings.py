"""Embedding routes in both dialects: POST /v1/embeddings, POST /api/embed and the older POST /api/embeddings."""

from __future__ import annotations

import base64
import time
from typing import Any

import numpy as np
from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from synapse.agent import Agent
from synapse.api.body import CheckedRoute
from synapse.api.deps import get_agent, get_settings
from synapse.api.embeddings import service_for
from synapse.api.openapi_docs import OLLAMA_BODY, OPENAI_BODY, Responses, ollama_errors, openai_errors
from synapse.api.schemas_embeddings import (
    EmbeddingList,
    EmbeddingRequest,
    OllamaEmbeddingResponse,
    OllamaEmbeddingsRequest,
    OllamaEmbedRequest,
    OllamaEmbedResponse,
)
from synapse.config import SynapseSettings
from synapse.embeddings import Vectors

router = APIRouter(route_class=CheckedRoute)

#: What an embedding can add to a body route's failures, and why.
_WHY = {
    400: "The model does not compute embeddings (e.g. the embedded llama.cpp model).",
    404: "No embedder and no backend serves the model.",
    413: "The body is larger than SYNAPSE_MAX_BODY_BYTES, or one text is longer than SYNAPSE_MAX_EMBED_CHARS.",
    422: "The body is not valid (token arrays included), more texts than SYNAPSE_MAX_EMBED_INPUTS, or "
    "`dimensions` other than the model's.",
    429: "An embedding batch runs and SYNAPSE_QUEUE_SIZE wait; retry after Retry-After seconds.",
    502: "The embedder or the backend failed.",
    503: "The embedder or the backend is unavailable (e.g. Ollama down for an ollama: embedder).",
}
_ADDED = (400, 404, 429, 502, 503)


def _described(responses: Responses) -> Responses:
    for status, entry in responses.items():
        if isinstance(status, int) and status in _WHY:
            entry["description"] = _WHY[status]
    return responses


def _as_base64(row: Vectors) -> str:
    # OpenAI's base64: the float32 values, little-endian, back to back.
    return base64.b64encode(np.asarray(row, dtype="<f4").tobytes()).decode("ascii")


@router.post(
    "/v1/embeddings",
    tags=["openai"],
    response_model=EmbeddingList,
    responses=_described(openai_errors(*OPENAI_BODY, *_ADDED)),
)
async def create_embeddings(
    body: EmbeddingRequest,
    agent: Agent = Depends(get_agent),  # noqa: B008
    settings: SynapseSettings = Depends(get_settings),  # noqa: B008
) -> JSONResponse:
    """Vectors for one text or a list: CORTEX's embedder (also as `triz-agent`), or a backend's model."""
    texts = [body.input] if isinstance(body.input, str) else body.input
    done = await service_for(agent).embed(body.model, texts, settings, body.dimensions)
    encode = _as_base64 if body.encoding_format == "base64" else (lambda row: row.tolist())
    data: list[dict[str, Any]] = [
        {"object": "embedding", "index": i, "embedding": encode(row)} for i, row in enumerate(done.vectors)
    ]
    usage = {"prompt_tokens": done.prompt_tokens, "total_tokens": done.prompt_tokens}
    return JSONResponse({"object": "list", "data": data, "model": body.model, "usage": usage})


@router.post(
    "/api/embed",
    tags=["ollama"],
    response_model=OllamaEmbedResponse,
    responses=_described(ollama_errors(*OLLAMA_BODY, *_ADDED)),
)
async def embed(
    body: OllamaEmbedRequest,
    agent: Agent = Depends(get_agent),  # noqa: B008
    settings: SynapseSettings = Depends(get_settings),  # noqa: B008
) -> JSONResponse:
    """Ollama's embed: `input` (a text or a list) gives `embeddings`; an empty input only checks the model."""
    started = time.perf_counter()
    texts = body.input if isinstance(body.input, list) else ([body.input] if body.input else [])
    done = await service_for(agent).embed(body.model, texts, settings, body.dimensions)
    return JSONResponse(
        {
            "model": body.model,
            "embeddings": done.vectors.tolist(),
            "total_duration": int((time.perf_counter() - started) * 1e9),
            "load_duration": 0,
            "prompt_eval_count": done.prompt_tokens,
        }
    )


@router.post(
    "/api/embeddings",
    tags=["ollama"],
    response_model=OllamaEmbeddingResponse,
    responses=_described(ollama_errors(*OLLAMA_BODY, *_ADDED)),
)
async def embeddings(
    body: OllamaEmbeddingsRequest,
    agent: Agent = Depends(get_agent),  # noqa: B008
    settings: SynapseSettings = Depends(get_settings),  # noqa: B008
) -> JSONResponse:
    """Ollama's older route: `prompt` gives one `embedding` (empty for an empty prompt, as Ollama answers)."""
    texts = [body.prompt] if body.prompt else []
    done = await service_for(agent).embed(body.model, texts, settings)
    return JSONResponse({"embedding": done.vectors[0].tolist() if texts else []})
