"""The models in Ollama's discovery shapes: /api/tags entries, /api/show, /api/ps, and their capabilities.

An agent model (`triz-agent`, `triz-agent-base`) is shown with what backs it: the backend's model for its
role, whose template, parameters and metadata the answers come from.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from synapse import __version__
from synapse.agent import TRIZ_AGENT, Agent
from synapse.errors import SynapseError
from synapse.llm import LLMBackend, LoadedModel, ModelCard, ModelInfo
from synapse.llm.models import ParameterValues
from synapse.llm.sampling import FALLBACK_TEMPERATURE, FALLBACK_TOP_P

ModelKind = Literal["chat", "embedding"]
#: The abilities SYNAPSE passes on to a model; others a backend reports (vision, thinking, insert) it drops.
_PASSED_ON = ("completion", "tools")
#: Ollama shows a model kept loaded without end (keep_alive < 0) as expiring in about 292 years.
_FOREVER = timedelta(days=365 * 292)
_AGENT_FAMILY = "synapse-agent"


def now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def digest(name: str) -> str:
    """A stable digest for a model that its backend gives none."""
    return hashlib.sha256(name.encode()).hexdigest()


def same_model(a: str, b: str) -> bool:
    """Whether two names are the same model, Ollama's default `:latest` tag aside."""

    def key(name: str) -> str:
        return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"

    return key(a) == key(b)


def capabilities(kind: ModelKind, reported: Sequence[str] | None = None) -> list[str]:
    """Ollama's capability names for a model of `kind`: an embedder embeds; a chat model completes and
    calls tools, unless its backend says it cannot (Ollama refuses tools for a template without them)."""
    if kind == "embedding":
        return ["embedding"]
    if reported is None:
        return list(_PASSED_ON)
    return ["completion", *(c for c in _PASSED_ON[1:] if c in reported)]


def model_kind(reported: Sequence[str] | None) -> ModelKind:
    """What a backend's capabilities make of a model: an embedder when it embeds and cannot complete."""
    return "embedding" if reported and "embedding" in reported and "completion" not in reported else "chat"


def details(info: ModelInfo | None, *, parameter_size: str = "") -> dict[str, Any]:
    """Ollama's `details` of a model (an agent model has none of its own)."""
    family = (info.family if info else None) or _AGENT_FAMILY
    return {
        "parent_model": "",
        "format": "gguf",
        "family": family,
        "families": [family],
        "parameter_size": parameter_size,
        "quantization_level": (info.quantization if info else None) or "",
    }


def tag(name: str, info: ModelInfo | None) -> dict[str, Any]:
    """One /api/tags entry."""
    return {
        "name": name,
        "model": name,
        "modified_at": now(),
        "size": (info.size if info else None) or 0,
        "digest": (info.digest if info else None) or digest(name),
        "details": details(info),
    }


@dataclass(frozen=True)
class Backing:
    """The backend and model that answer for a name (itself, or an agent model's model for its role)."""

    backend: LLMBackend
    model: str


async def backing(agent: Agent, name: str) -> Backing | None:
    """What answers for `name` now, or None when no healthy backend serves it."""
    backends = agent.backends
    try:
        if name in agent.agent_models:
            backend = await backends.pick()
            profile = agent.profiles.get(name) or agent.profiles.profiles[TRIZ_AGENT]  # `auto`: the default
            return Backing(backend, agent.profile_model(profile, backend))
        return Backing(await backends.backend_for_model(name), name)
    except SynapseError:
        return None


async def show(agent: Agent, name: str, info: ModelInfo | None) -> dict[str, Any]:
    """/api/show of a served model (`info` as /api/tags lists it; None for an agent model)."""
    found = await backing(agent, name)
    if found is None:
        return show_body(name, info, ModelCard(), info.context_window if info else None, name)
    card = await found.backend.model_card(found.model)
    return show_body(name, info, card, found.backend.context_window(found.model), found.model)


def _parameters(card: ModelCard, context_window: int | None) -> dict[str, ParameterValues]:
    """The sampling a request that sends none gets: the backend's card (which knows what it applies), else
    SYNAPSE's fallback."""
    params = {k: v for k, v in card.parameters.items() if k != "num_predict"}
    if context_window:
        params["num_ctx"] = [context_window]
    return {"temperature": [FALLBACK_TEMPERATURE], "top_p": [FALLBACK_TOP_P], **params}


def parameters_text(params: dict[str, ParameterValues]) -> str:
    """Parameters as Ollama prints them: the name padded to 30, strings quoted; one line per value."""
    lines = [f"{name:<30} {json.dumps(v) if isinstance(v, str) else v}" for name, vs in params.items() for v in vs]
    return "\n".join(lines)


def _model_info(card: ModelCard, info: ModelInfo | None, context_window: int | None) -> dict[str, Any]:
    out = dict(card.model_info)
    arch = str(out.get("general.architecture") or (info.family if info else None) or _AGENT_FAMILY)
    out["general.architecture"] = arch
    if context_window and f"{arch}.context_length" not in out:
        out[f"{arch}.context_length"] = context_window
    return out


def _modelfile(model: str, card: ModelCard, params: dict[str, ParameterValues]) -> str:
    lines = [f"# served by SYNAPSE {__version__}", f"FROM {model}"]
    if card.template:
        lines.append(f'TEMPLATE """{card.template}"""')
    lines += [f"PARAMETER {line}" for line in parameters_text(params).splitlines()]
    return "\n".join(lines) + "\n"


def show_body(
    name: str, info: ModelInfo | None, card: ModelCard, context_window: int | None, source: str
) -> dict[str, Any]:
    """/api/show of `name`: `info` is the model as listed (None for an agent model), `card` that of the
    model `source` that answers for it."""
    params = _parameters(card, context_window)
    kind = model_kind(card.capabilities)
    body: dict[str, Any] = {
        "modelfile": _modelfile(source, card, params),
        "parameters": parameters_text(params),
        "details": details(info),
        "model_info": _model_info(card, info, context_window),
        "capabilities": capabilities(kind, card.capabilities),
        "modified_at": now(),
    }
    if card.template:
        body["template"] = card.template
    return body


def ps_entry(name: str, loaded: LoadedModel, info: ModelInfo | None) -> dict[str, Any]:
    """One /api/ps entry: `loaded` is what the backend holds for `name`, `info` the model as /api/tags
    lists it (None for an agent model), so that both routes show one digest and one set of details."""
    expires = loaded.expires_at or datetime.now(timezone.utc) + _FOREVER
    return {
        "name": name,
        "model": name,
        "size": loaded.size,
        "digest": (info.digest if info else None) or digest(name),
        "details": details(info, parameter_size=(loaded.parameter_size or "") if info else ""),
        "expires_at": expires.isoformat().replace("+00:00", "Z"),
        "size_vram": loaded.size_vram,
        "context_length": loaded.context_length or 0,
        **({"slots": loaded.slots, "slots_in_use": loaded.slots_in_use} if loaded.slots is not None else {}),
    }


async def _held(agent: Agent) -> list[tuple[LLMBackend, LoadedModel]]:
    """What each healthy backend holds in memory, a model held by two only once (the first backend's)."""
    backends = agent.backends
    held: list[tuple[LLMBackend, LoadedModel]] = []
    for name in backends.order:
        if (await backends.health_of(name)).status != "ok":
            continue
        backend = backends.backends[name]
        for loaded in await backend.loaded_models():
            if not any(same_model(loaded.name, m.name) for _, m in held):
                held.append((backend, loaded))
    return held


async def running(agent: Agent) -> list[dict[str, Any]]:
    """/api/ps: the agent models whose backing model is loaded, then every model a backend holds."""
    held = await _held(agent)
    listed = {m.name: m for m in await agent.raw_models()}
    out = []
    for name in agent.agent_models:
        found = await backing(agent, name)
        for backend, loaded in held:
            if found is not None and backend is found.backend and same_model(loaded.name, found.model):
                out.append(ps_entry(name, loaded, None))
                break
    for backend, loaded in held:
        info = listed.get(loaded.name) or ModelInfo(
            name=loaded.name,
            backend=backend.kind,
            size=loaded.size,
            family=loaded.family,
            quantization=loaded.quantization,
            digest=loaded.digest,
        )
        out.append(ps_entry(loaded.name, loaded, info))
    return out
