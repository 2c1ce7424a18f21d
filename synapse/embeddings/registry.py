"""The embedders a setting can name: one registry, where the built-in ones and `ollama:<model>` both register.

An embedder is named either exactly (`use-multilingual`) or by a prefix and an argument (`ollama:bge-m3`).
Exact names are shared instances (one model load per process) and can be re-created by name in a child
process; a prefix factory makes a new embedder each time. The package that provides a prefix registers it
(CORTEX registers `ollama:`), the way a plugin would.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from synapse.embeddings.base import Embedder
from synapse.embeddings.use_multilingual import UseMultilingualEmbedder
from synapse.errors import SynapseError

#: Makes the embedder for the argument after the prefix; `setting` names the setting to fix in its errors.
PrefixFactory = Callable[[str, str], Embedder]


class UnknownEmbedderError(SynapseError):
    """A setting names an embedder that no one registered."""


@dataclass(frozen=True)
class _Prefix:
    factory: PrefixFactory
    example: str


class EmbedderRegistry:
    def __init__(self) -> None:
        self._exact: dict[str, Callable[[], Embedder]] = {}
        self._prefixes: dict[str, _Prefix] = {}
        self._shared: dict[str, Embedder] = {}

    def register(self, name: str, factory: Callable[[], Embedder]) -> None:
        self._exact[name] = factory

    def register_prefix(self, prefix: str, factory: PrefixFactory, example: str) -> None:
        """`example`: a full name for the error hints, e.g. `ollama:nomic-embed-text`."""
        self._prefixes[prefix] = _Prefix(factory, example)

    def names(self) -> list[str]:
        """The exact names: the embedders that load in this process and can be re-created in a child."""
        return sorted(self._exact)

    def get(self, name: str, *, setting: str = "SYNAPSE_EMBEDDER") -> Embedder:
        if name in self._exact:
            if name not in self._shared:
                self._shared[name] = self._exact[name]()
            return self._shared[name]
        for prefix, entry in self._prefixes.items():
            if name.startswith(prefix):
                return entry.factory(name[len(prefix) :].strip(), setting)
        choices = [*self.names(), *(entry.example for entry in self._prefixes.values())]
        raise UnknownEmbedderError(f"unknown embedder {name!r}", f"set {setting} to one of: {', '.join(choices)}")


EMBEDDERS = EmbedderRegistry()
EMBEDDERS.register(UseMultilingualEmbedder.name, UseMultilingualEmbedder)


def available_embedders() -> list[str]:
    return EMBEDDERS.names()


def get_embedder(name: str, *, setting: str = "SYNAPSE_EMBEDDER") -> Embedder:
    """The embedder called `name`: a shared instance for exact names, a new one for a prefix."""
    return EMBEDDERS.get(name, setting=setting)
