"""The embedder interface that the TRIZ analyzer, CORTEX and SYNAPSE share."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


class Embedder(ABC):
    """Turns texts into L2-normalised float32 vectors of a fixed dimension."""

    #: Stable name recorded next to stored vectors, so a store can refuse a different embedder.
    name: str
    dim: int

    @abstractmethod
    def _encode(self, texts: list[str]) -> Vectors:
        """Encode a non-empty batch; rows need not be normalised."""

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Vectors for `texts`, one row each, unit length (a zero row for an all-blank text)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = np.asarray(self._encode(list(texts)), dtype=np.float32).reshape(len(texts), self.dim)
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        out: Vectors = np.divide(vecs, norms, out=np.zeros_like(vecs), where=norms > 0)
        return out

    async def aembed(self, texts: Sequence[str]) -> Vectors:
        """`embed` off the event loop, for async callers such as LightRAG."""
        return await asyncio.to_thread(self.embed, texts)
