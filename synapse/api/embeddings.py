"""Embeddings for the API: CORTEX's embedder (for the agent models too) or a backend's model passed through.

SYNAPSE embeds with the embedder CORTEX reports in its health (the one its store was built with), so an
agent's vectors live in CORTEX's space. CORTEX has no embedding route: a remote CORTEX's embedder is run
here by the same name (`ollama:<model>` through OLLAMA_HOST). While CORTEX does not answer, CORTEX_EMBEDDER
names it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import weakref
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np

from cortex.embedding import resolve_embedder  # also registers the `ollama:` prefix
from cortex.errors import CortexUnavailableError
from synapse.agent import AGENT_MODELS, Agent
from synapse.api.errors import ApiError
from synapse.api.limits import BusyError, ConcurrencyLimiter
from synapse.api.schemas_openai import ModelCard
from synapse.config import CortexSettings, SynapseSettings
from synapse.embeddings import Embedder, Vectors, available_embedders, get_embedder
from synapse.errors import SynapseError
from synapse.llm import EmbeddingsNotSupportedError, LLMBackend, ModelNotFoundError, estimate_tokens

log = logging.getLogger("synapse.api")

#: How long the embedder name from CORTEX's health is trusted (a reindex may change it).
NAME_TTL_S = 30.0
#: How long a listing or an embedding waits for CORTEX's health before taking CORTEX_EMBEDDER.
HEALTH_TIMEOUT_S = 3.0
#: After CORTEX did not answer, how long until it is asked again (model lists are polled often).
RETRY_S = 5.0
CAPABILITIES = ["embedding"]


@dataclass(frozen=True)
class EmbeddingModel:
    """CORTEX's embedder as the model lists show it; `dim` is None until a remote embedder has answered."""

    name: str
    dim: int | None

    @property
    def family(self) -> str:
        return self.name.split(":", 1)[1] if self.name.startswith("ollama:") else self.name

    def matches(self, requested: str) -> bool:
        return requested in (self.name, f"{self.name}:latest")


@dataclass(frozen=True)
class Embedded:
    vectors: Vectors
    prompt_tokens: int


def _untagged(model: str) -> str:
    return model.removesuffix(":latest")


def _tagged(model: str) -> str:
    # Ollama's canonical name: without a tag, the `latest` tag.
    return model if ":" in model.rsplit("/", 1)[-1] else f"{model}:latest"


def check_inputs(texts: list[str], settings: SynapseSettings) -> None:
    """422 for more texts than SYNAPSE_MAX_EMBED_INPUTS, 413 for a text over SYNAPSE_MAX_EMBED_CHARS."""
    if len(texts) > settings.max_embed_inputs:
        raise ApiError(
            422,
            f"too many inputs: {len(texts)}, the limit is {settings.max_embed_inputs} (SYNAPSE_MAX_EMBED_INPUTS)",
            "too_many_inputs",
            param="input",
            hint="send the texts in several requests",
        )
    for index, text in enumerate(texts):
        if len(text) > settings.max_embed_chars:
            raise ApiError(
                413,
                f"input {index} has {len(text):,} characters, the limit is {settings.max_embed_chars:,} "
                "(SYNAPSE_MAX_EMBED_CHARS)",
                "input_too_large",
                param="input",
                hint="split the text into smaller pieces",
            )


def _check_dimensions(model: str, wanted: int | None, dim: int) -> None:
    if wanted is not None and wanted != dim:
        raise ApiError(
            422,
            f"model '{model}' gives {dim}-dimensional vectors; `dimensions` can only be {dim}",
            "unsupported_dimensions",
            param="dimensions",
            hint="leave `dimensions` out",
        )


class EmbeddingService:
    """One per agent: finds CORTEX's embedder, embeds off the event loop, one batch at a time."""

    def __init__(self, agent: Agent) -> None:
        self._agent = agent
        self._limiter = ConcurrencyLimiter(1, agent.settings.queue_size)
        self._name: str | None = None
        self._fallback = CortexSettings().embedder
        self._next_check = 0.0
        self._embedders: dict[str, Embedder] = {}
        self._building = asyncio.Lock()

    async def embedder_name(self) -> str:
        """The name of CORTEX's embedder: from its health, else the last one seen, else CORTEX_EMBEDDER."""
        if time.monotonic() < self._next_check:
            return self._name or self._fallback
        try:
            health = await asyncio.wait_for(self._agent.cortex.health(), HEALTH_TIMEOUT_S)
        except Exception as exc:  # CORTEX down, slow or broken: its setting names the embedder it will use
            log.debug("CORTEX health for the embedder name failed: %s", exc)
            self._next_check = time.monotonic() + RETRY_S
            return self._name or self._fallback
        self._name, self._next_check = health.embedder, time.monotonic() + NAME_TTL_S
        return health.embedder

    async def model(self) -> EmbeddingModel:
        name = await self.embedder_name()
        built = self._embedders.get(name)
        if built is None and name in available_embedders():
            built = get_embedder(name)  # a registry name: a shared instance whose weights load on first use
        return EmbeddingModel(name, built.dim if built is not None else None)

    async def embedder(self) -> Embedder:
        name = await self.embedder_name()
        async with self._building:
            if name not in self._embedders:
                try:
                    # An Ollama embedder asks the server for its dimension when it is made.
                    self._embedders[name] = await asyncio.to_thread(resolve_embedder, name)
                except SynapseError as exc:
                    raise ApiError(
                        503,
                        f"CORTEX's embedder {name!r} cannot be used: {exc.message}",
                        "embedder_unavailable",
                        hint=exc.hint,
                    ) from exc
        return self._embedders[name]

    async def embed(
        self, model: str, texts: list[str], settings: SynapseSettings, dimensions: int | None = None
    ) -> Embedded:
        """Vectors for `texts` from the model a request names; raises ApiError in the route's terms."""
        check_inputs(texts, settings)
        own = await self.model()
        if own.matches(model) or _untagged(model) in AGENT_MODELS:
            embedder = await self.embedder()
            _check_dimensions(model, dimensions, embedder.dim)
            vectors = await self._local(embedder, texts)
        else:
            vectors = await self._passthrough(model, texts, own.name, dimensions)
            if texts:
                _check_dimensions(model, dimensions, vectors.shape[1])
        return Embedded(vectors, sum(estimate_tokens(t) for t in texts))

    async def _local(self, embedder: Embedder, texts: list[str]) -> Vectors:
        if not texts:
            return embedder.embed([])
        try:
            slot = self._limiter.reserve()
        except BusyError as exc:
            raise ApiError(
                429,
                f"{exc} (one embedding batch runs at a time, {self._limiter.queued} wait; the limit is "
                "SYNAPSE_QUEUE_SIZE)",
                "server_busy",
                headers={"Retry-After": str(exc.retry_after)},
            ) from None
        try:
            await slot.acquire()
            return await embedder.aembed(texts)
        except CortexUnavailableError as exc:
            raise ApiError(503, exc.message, "embedder_unavailable", hint=exc.hint) from exc
        except SynapseError as exc:
            raise ApiError(502, exc.message, "embedder_failed", hint=exc.hint) from exc
        finally:
            slot.release()

    async def _backend_for(self, model: str, own: str) -> LLMBackend:
        for candidate in dict.fromkeys([model, _tagged(model)]):
            try:
                return await self._agent.backends.backend_for_model(candidate)
            except ModelNotFoundError:
                continue
        raise ApiError(
            404,
            f"model '{model}' not found",
            "model_not_found",
            param="model",
            hint=f"use {own}, {' or '.join(AGENT_MODELS)} (CORTEX's embedder), or an embedding model of the "
            "Ollama backend",
        )

    async def _passthrough(self, model: str, texts: list[str], own: str, dimensions: int | None) -> Vectors:
        backend = await self._backend_for(model, own)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        try:
            rows = await backend.embed(texts, model, dimensions)
        except EmbeddingsNotSupportedError as exc:
            raise ApiError(
                400,
                f"model '{model}' does not compute embeddings here: {exc.message}",
                "embeddings_not_supported",
                param="model",
                hint=f"use {own} or {' or '.join(AGENT_MODELS)} (CORTEX's embedder)",
            ) from exc
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), -1)


_SERVICES: weakref.WeakKeyDictionary[Agent, EmbeddingService] = weakref.WeakKeyDictionary()


def service_for(agent: Agent) -> EmbeddingService:
    """The agent's embedding service (made on first use, inside the event loop)."""
    service = _SERVICES.get(agent)
    if service is None:
        service = _SERVICES[agent] = EmbeddingService(agent)
    return service


# ---- the model lists (called from the /v1/models, /api/tags and /api/show routes) ----------------------


async def embedding_models(agent: Agent) -> list[EmbeddingModel]:
    """The embedding models SYNAPSE lists itself: CORTEX's embedder (backends list their own models)."""
    return [await service_for(agent).model()]


async def embedding_cards(agent: Agent, created: int) -> list[ModelCard]:
    """CORTEX's embedder as /v1/models entries."""
    return [
        ModelCard(
            id=m.name,
            created=created,
            owned_by="cortex",
            description="CORTEX's embedder; triz-agent and triz-agent-base embed with it too",
            extra={"kind": "embedding", "capabilities": CAPABILITIES, "dimensions": m.dim},
        )
        for m in await embedding_models(agent)
    ]


def _details(m: EmbeddingModel) -> dict[str, Any]:
    return {
        "parent_model": "",
        "format": "",
        "family": m.family,
        "families": [m.family],
        "parameter_size": "",
        "quantization_level": "",
    }


def _now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


async def embedding_tags(agent: Agent) -> list[dict[str, Any]]:
    """CORTEX's embedder as /api/tags entries, with Ollama's `capabilities`."""
    return [
        {
            "name": m.name,
            "model": m.name,
            "modified_at": _now(),
            "size": 0,
            "digest": hashlib.sha256(m.name.encode()).hexdigest(),
            "details": _details(m),
            "capabilities": CAPABILITIES,
        }
        for m in await embedding_models(agent)
    ]


async def embedding_show(agent: Agent, name: str) -> dict[str, Any] | None:
    """The /api/show answer for CORTEX's embedder, or None when `name` is another model."""
    for m in await embedding_models(agent):
        if m.matches(name):
            return {
                "modelfile": f"# CORTEX's embedder, served by SYNAPSE\nFROM {m.name}\n",
                "parameters": "",
                "template": "",
                "details": _details(m),
                "model_info": {"general.architecture": m.family, f"{m.family}.embedding_length": m.dim},
                "capabilities": CAPABILITIES,
                "modified_at": _now(),
            }
    return None
