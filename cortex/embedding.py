"""Embedders for CORTEX: the project's offline embedder or Ollama, wrapped as LightRAG's EmbeddingFunc."""

from __future__ import annotations

import asyncio
import hashlib
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from lightrag.utils import EmbeddingFunc  # type: ignore[import-untyped]

from cortex.errors import CortexError, CortexUnavailableError
from synapse.config import OllamaSettings
from synapse.embeddings import EMBEDDERS, Embedder, Vectors, get_embedder
from synapse.embeddings.child import EmbeddingProcess
from synapse.paths import default_cache_dir

OLLAMA_PREFIX = "ollama:"


# Connecting fails fast when nobody listens; a read may wait for Ollama to load the model first.
OLLAMA_TIMEOUT = httpx.Timeout(300.0, connect=10.0)


class OllamaEmbedder(Embedder):
    """Embeddings from an Ollama server (`nomic-embed-text`, `bge-m3`...) through the `ollama` client."""

    def __init__(self, model: str, host: str | None = None) -> None:
        import ollama

        self.model = model
        self.host = host or OllamaSettings().host
        self.name = f"{OLLAMA_PREFIX}{model}"
        self._client = ollama.Client(host=self.host, timeout=OLLAMA_TIMEOUT)
        self.dim = len(self._call(["dimension probe"])[0])

    def _call(self, texts: list[str]) -> list[Sequence[float]]:
        import ollama

        try:
            response = self._client.embed(model=self.model, input=texts)
        except ollama.ResponseError as exc:
            if exc.status_code == 404:
                raise CortexError(
                    f"Ollama at {self.host} has no model {self.model!r} (CORTEX_EMBEDDER={self.name}): {exc.error}",
                    f"run `ollama pull {self.model}`, or set CORTEX_EMBEDDER to a pulled model or use-multilingual",
                ) from exc
            raise CortexError(
                f"Ollama at {self.host} cannot embed with {self.model!r} (CORTEX_EMBEDDER={self.name}): {exc.error}",
                f"check `ollama run {self.model}` works, or set CORTEX_EMBEDDER to another model",
            ) from exc
        except (ConnectionError, OSError, httpx.TransportError) as exc:
            # The ollama client turns a refused connection into ConnectionError; timeouts stay httpx errors.
            raise CortexUnavailableError(
                f"Ollama is not reachable at {self.host} (OLLAMA_HOST) "
                f"for CORTEX_EMBEDDER={self.name} ({type(exc).__name__})",
                "start Ollama (`ollama serve`) or set OLLAMA_HOST; CORTEX_EMBEDDER=use-multilingual needs no server",
            ) from exc
        if len(response.embeddings) != len(texts):
            raise CortexError(
                f"Ollama at {self.host} returned {len(response.embeddings)} vectors for {len(texts)} texts "
                f"(CORTEX_EMBEDDER={self.name})",
                "update Ollama; /api/embed answers one vector per input",
            )
        return list(response.embeddings)

    def _encode(self, texts: list[str]) -> Vectors:
        return np.asarray(self._call(texts), dtype=np.float32)


def _ollama_embedder(model: str, setting: str) -> Embedder:
    if not model:
        raise CortexError(f"{setting} names no Ollama model", "use e.g. ollama:nomic-embed-text")
    return OllamaEmbedder(model)


EMBEDDERS.register_prefix(OLLAMA_PREFIX, _ollama_embedder, example="ollama:<model>")


def resolve_embedder(name: str) -> Embedder:
    """The embedder a CORTEX_EMBEDDER value names."""
    return get_embedder(name, setting="CORTEX_EMBEDDER")


# Documents' texts wait this long for company before they are embedded together, up to MAX_BATCH texts.
BATCH_WAIT_S = 0.003
MAX_BATCH = 64


class QueryFirstLock:
    """One embedder call at a time, and a waiting query goes before waiting document batches.

    Embedders need not be thread-safe (snowball stemmers are not), and on a CPU concurrent batches only
    compete for the same cores. Without the priority a query would wait for a whole document's batches.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._busy = False
        self._queries_waiting = 0

    def acquire(self, query: bool) -> None:
        with self._cond:
            if query:
                self._queries_waiting += 1
            try:
                while self._busy or (not query and self._queries_waiting):
                    self._cond.wait()
            finally:
                if query:
                    self._queries_waiting -= 1
            self._busy = True

    def release(self) -> None:
        with self._cond:
            self._busy = False
            self._cond.notify_all()


class VectorMemo:
    """Vectors of known texts (the TRIZ graph's), kept in the user cache so a new store is built in seconds.

    While `recording`, every text embedded is remembered; `save` writes them (float16, sha1 keys).
    """

    def __init__(
        self, embedder: Embedder, cache_dir: Path | None = None, process: EmbeddingProcess | None = None
    ) -> None:
        self.embedder = embedder
        self.cache_dir = cache_dir
        self.process = process  # documents' batches go there once it runs; queries stay here
        self._lock = QueryFirstLock()
        self._waiting: list[tuple[list[str], asyncio.Future[Vectors]]] = []
        self._drainer: asyncio.Task[None] | None = None
        self.vectors: dict[bytes, Vectors] = {}
        self.recording = False
        self.seen: dict[bytes, Vectors] = {}

    @staticmethod
    def key(text: str) -> bytes:
        return hashlib.sha1(text.encode("utf-8")).digest()

    def path(self, label: str) -> Path:
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.embedder.name)
        folder = self.cache_dir or default_cache_dir() / "cortex"
        return folder / f"{label}-{safe}-{self.embedder.dim}.npz"

    def load(self, label: str) -> int:
        path = self.path(label)
        try:
            with np.load(path) as data:
                keys, vecs = data["keys"], data["vectors"].astype(np.float32)
        except (OSError, KeyError, ValueError):
            return 0
        self.vectors = {bytes(k): v for k, v in zip(keys, vecs, strict=False)}
        return len(self.vectors)

    def save(self, label: str) -> None:
        if not self.seen:
            return
        path = self.path(label)
        path.parent.mkdir(parents=True, exist_ok=True)
        keys = np.array(list(self.seen), dtype="S20")
        vecs = np.stack(list(self.seen.values())).astype(np.float16)
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("wb") as fh:
            np.savez(fh, keys=keys, vectors=vecs)
        tmp.replace(path)
        # Vectors of earlier knowledge versions are never read again.
        kind, safe = label.split("-")[0], re.sub(r"[^A-Za-z0-9_.-]+", "_", self.embedder.name)
        for stale in path.parent.glob(f"{kind}-*-{safe}-{self.embedder.dim}.npz"):
            if stale != path:
                stale.unlink(missing_ok=True)

    def clear(self) -> None:
        self.vectors, self.seen, self.recording = {}, {}, False

    def close(self) -> None:
        if self.process is not None:
            self.process.close()

    def _embed_documents(self, texts: list[str]) -> Vectors:
        vectors = self.process.embed(texts) if self.process is not None else None
        return vectors if vectors is not None else self._embed_serially(texts)

    def _embed_serially(self, texts: list[str], query: bool = False) -> Vectors:
        self._lock.acquire(query)
        try:
            return self.embedder.embed(texts)
        finally:
            self._lock.release()

    async def _batched(self, texts: list[str]) -> Vectors:
        """Document texts from concurrent callers embedded together: one call per batch is much cheaper."""
        future: asyncio.Future[Vectors] = asyncio.get_running_loop().create_future()
        self._waiting.append((texts, future))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._waiting:
            await asyncio.sleep(BATCH_WAIT_S)  # let the other documents in flight add their texts
            taken: list[tuple[list[str], asyncio.Future[Vectors]]] = []
            size = 0
            while self._waiting and (not taken or size + len(self._waiting[0][0]) <= MAX_BATCH):
                item = self._waiting.pop(0)
                taken.append(item)
                size += len(item[0])
            flat = [t for texts, _ in taken for t in texts]
            try:
                vectors = await asyncio.to_thread(self._embed_documents, flat)
            except Exception as exc:
                for _, future in taken:
                    if not future.done():
                        future.set_exception(exc)
                continue
            start = 0
            for texts, future in taken:
                if not future.done():
                    future.set_result(vectors[start : start + len(texts)])
                start += len(texts)

    async def embed(self, texts: list[str], query: bool = False) -> Vectors:
        if not self.vectors and not self.recording:
            if query:
                return await asyncio.to_thread(self._embed_serially, texts, True)
            return await self._batched(texts)
        keys = [self.key(t) for t in texts]
        missing = [i for i, k in enumerate(keys) if k not in self.vectors]
        out = np.zeros((len(texts), self.embedder.dim), dtype=np.float32)
        if missing:
            fresh = await asyncio.to_thread(self._embed_serially, [texts[i] for i in missing])
            for row, i in enumerate(missing):
                out[i] = fresh[row]
        for i, k in enumerate(keys):
            if k in self.vectors:
                out[i] = self.vectors[k]
            if self.recording:
                self.seen[k] = out[i]
        return out


def lightrag_embedding(memo: VectorMemo) -> EmbeddingFunc:
    """LightRAG's view of an embedder: an async function from texts to an (n, dim) array."""

    async def embed(texts: list[str], context: str = "document", **_: Any) -> np.ndarray[Any, Any]:
        return await memo.embed(texts, query=context == "query")

    # supports_asymmetric makes LightRAG say whether it embeds a query or documents.
    return EmbeddingFunc(
        embedding_dim=memo.embedder.dim, func=embed, model_name=memo.embedder.name, supports_asymmetric=True
    )
