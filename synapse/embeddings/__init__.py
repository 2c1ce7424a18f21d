"""Text embedders behind one interface."""

from synapse.embeddings.base import Embedder, Vectors
from synapse.embeddings.registry import available_embedders, get_embedder
from synapse.embeddings.use_multilingual import UseMultilingualEmbedder

__all__ = ["Embedder", "UseMultilingualEmbedder", "Vectors", "available_embedders", "get_embedder"]
