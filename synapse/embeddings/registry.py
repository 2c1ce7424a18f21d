"""Choose an embedder by the name given in settings."""

from __future__ import annotations

from collections.abc import Callable

from synapse.embeddings.base import Embedder
from synapse.embeddings.use_multilingual import UseMultilingualEmbedder
from synapse.errors import SynapseError

_FACTORIES: dict[str, Callable[[], Embedder]] = {
    UseMultilingualEmbedder.name: UseMultilingualEmbedder,
}
_instances: dict[str, Embedder] = {}


def available_embedders() -> list[str]:
    return sorted(_FACTORIES)


def get_embedder(name: str) -> Embedder:
    """The shared instance of the embedder called `name` (one model load per process)."""
    if name not in _FACTORIES:
        raise SynapseError(
            f"unknown embedder {name!r}",
            f"set SYNAPSE_EMBEDDER to one of: {', '.join(available_embedders())}",
        )
    if name not in _instances:
        _instances[name] = _FACTORIES[name]()
    return _instances[name]
