"""Text embedders behind one interface."""

from synapse.embeddings.base import Embedder, Vectors
from synapse.embeddings.registry import (
    EMBEDDERS,
    EmbedderRegistry,
    UnknownEmbedderError,
    available_embedders,
    get_embedder,
)
from synapse.embeddings.use_multilingual import UseMultilingualEmbedder

__all__ = [
    "EMBEDDERS",
    "Embedder",
    "EmbedderRegistry",
    "UnknownEmbedderError",
    "UseMultilingualEmbedder",
    "Vectors",
    "available_embedders",
    "get_embedder",
]
