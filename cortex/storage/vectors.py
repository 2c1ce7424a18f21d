"""A LightRAG vector storage: vectors in memory (numpy) for search, rows in SQLite for durability.

LightRAG's NanoVectorDBStorage rewrites one JSON file with every vector after each document (ingest
grows quadratically) and embeds pending rows while holding its lock at flush, so queries wait for a
document's embedding. Here a row is embedded when it is upserted, outside any lock; a flush writes
only the rows that changed; search is one matrix-vector product.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from typing import Any, final

import numpy as np
from lightrag.base import BaseVectorStorage  # type: ignore[import-untyped]
from lightrag.constants import DEFAULT_QUERY_PRIORITY  # type: ignore[import-untyped]
from lightrag.utils import compute_mdhash_id, validate_workspace  # type: ignore[import-untyped]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rows (
    id TEXT PRIMARY KEY,
    vector BLOB NOT NULL,
    meta TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
"""


@final
@dataclass
class CortexVectorStorage(BaseVectorStorage):  # type: ignore[misc]
    """Registered with LightRAG as "CortexVectorStorage"; one SQLite file per namespace."""

    def __post_init__(self) -> None:
        validate_workspace(self.workspace)
        self._validate_embedding_func()
        kwargs = self.global_config.get("vector_db_storage_cls_kwargs", {})
        self.cosine_better_than_threshold = float(kwargs.get("cosine_better_than_threshold", 0.2))
        working_dir = self.global_config["working_dir"]
        folder = os.path.join(working_dir, self.workspace) if self.workspace else working_dir
        os.makedirs(folder, exist_ok=True)
        self._path = os.path.join(folder, f"vdb_{self.namespace}.sqlite3")
        self._batch = int(self.global_config.get("embedding_batch_num", 32))
        self._dim = int(self.embedding_func.embedding_dim)
        self._ids: list[str] = []
        self._index: dict[str, int] = {}
        self._meta: dict[str, dict[str, Any]] = {}
        self._created: dict[str, int] = {}
        self._matrix = np.zeros((0, self._dim), dtype=np.float32)
        self._dirty: set[str] = set()
        self._deleted: set[str] = set()
        self._db: sqlite3.Connection | None = None
        self._db_lock = threading.Lock()

    # ---- life cycle -------------------------------------------------------------------------

    async def initialize(self) -> None:
        if self._db is None:
            await asyncio.to_thread(self._open)

    def _open(self) -> None:
        db = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(_SCHEMA)
        rows = db.execute("SELECT id, vector, meta, created_at FROM rows").fetchall()
        self._matrix = np.zeros((max(len(rows), 16), self._dim), dtype=np.float32)
        for doc_id, blob, meta, created in rows:
            vector = np.frombuffer(blob, dtype=np.float32)
            if vector.shape[0] != self._dim:
                db.close()
                raise ValueError(f"{self._path} holds {vector.shape[0]}-d vectors, the embedder gives {self._dim}-d")
            self._put(doc_id, vector, json.loads(meta), int(created))
        self._db = db

    async def finalize(self) -> None:
        await self.index_done_callback()
        if self._db is not None:
            with self._db_lock:
                self._db.close()
            self._db = None

    # ---- memory -----------------------------------------------------------------------------

    def _put(self, doc_id: str, vector: np.ndarray[Any, Any], meta: dict[str, Any], created: int) -> None:
        row = self._index.get(doc_id)
        if row is None:
            row = len(self._ids)
            if row == self._matrix.shape[0]:
                grown = np.zeros((max(16, row * 2), self._dim), dtype=np.float32)
                grown[:row] = self._matrix[:row]
                self._matrix = grown
            self._ids.append(doc_id)
            self._index[doc_id] = row
        norm = float(np.linalg.norm(vector))
        self._matrix[row] = vector / norm if norm > 0 else vector
        self._meta[doc_id] = meta
        self._created[doc_id] = created

    def _remove(self, doc_id: str) -> bool:
        row = self._index.pop(doc_id, None)
        if row is None:
            return False
        last = len(self._ids) - 1
        if row != last:  # move the last row into the gap
            moved = self._ids[last]
            self._ids[row] = moved
            self._index[moved] = row
            self._matrix[row] = self._matrix[last]
        self._ids.pop()
        self._meta.pop(doc_id, None)
        self._created.pop(doc_id, None)
        return True

    # ---- LightRAG interface -----------------------------------------------------------------

    async def upsert(self, data: dict[str, dict[str, Any]]) -> None:
        if not data:
            return
        ids = list(data)
        contents = [str(data[i].get("content", "")) for i in ids]
        batches = [contents[s : s + self._batch] for s in range(0, len(contents), self._batch)]
        parts = await asyncio.gather(*(self.embedding_func(b, context="document") for b in batches))
        vectors = np.concatenate([np.asarray(p, dtype=np.float32).reshape(-1, self._dim) for p in parts])
        now = int(time.time())
        for doc_id, vector in zip(ids, vectors, strict=True):
            meta = {k: v for k, v in data[doc_id].items() if k in self.meta_fields}
            self._put(doc_id, vector, meta, now)
            self._dirty.add(doc_id)
            self._deleted.discard(doc_id)

    async def query(self, query: str, top_k: int, query_embedding: list[float] | None = None) -> list[dict[str, Any]]:
        if query_embedding is None:
            embedded = await self.embedding_func([query], context="query", _priority=DEFAULT_QUERY_PRIORITY)
            vector = np.asarray(embedded, dtype=np.float32).reshape(-1)
        else:
            vector = np.asarray(query_embedding, dtype=np.float32).reshape(-1)
        n = len(self._ids)
        norm = float(np.linalg.norm(vector))
        if n == 0 or norm == 0 or top_k <= 0:
            return []
        scores = self._matrix[:n] @ (vector / norm)
        k = min(top_k, n)
        best = np.argpartition(-scores, k - 1)[:k] if k < n else np.arange(n)
        best = best[np.argsort(-scores[best])]
        out = []
        for row in best:
            score = float(scores[row])
            if score < self.cosine_better_than_threshold:
                break
            doc_id = self._ids[row]
            out.append({**self._meta[doc_id], "id": doc_id, "distance": score, "created_at": self._created[doc_id]})
        return out

    async def delete(self, ids: list[str]) -> None:
        for doc_id in ids:
            if self._remove(doc_id):
                self._deleted.add(doc_id)
            self._dirty.discard(doc_id)

    async def delete_entity(self, entity_name: str) -> None:
        await self.delete([compute_mdhash_id(entity_name, prefix="ent-")])

    async def delete_entity_relation(self, entity_name: str) -> None:
        doomed = [
            doc_id
            for doc_id, meta in self._meta.items()
            if meta.get("src_id") == entity_name or meta.get("tgt_id") == entity_name
        ]
        await self.delete(doomed)

    def _record(self, doc_id: str) -> dict[str, Any] | None:
        if doc_id not in self._index:
            return None
        return {**self._meta[doc_id], "id": doc_id, "created_at": self._created[doc_id]}

    async def get_by_id(self, id: str) -> dict[str, Any] | None:
        return self._record(id)

    async def get_by_ids(self, ids: list[str]) -> list[dict[str, Any] | None]:
        return [self._record(i) for i in ids]

    async def get_vectors_by_ids(self, ids: list[str]) -> dict[str, Any]:
        """Stored vectors as float32 arrays, not the lists LightRAG's signature names.

        LightRAG only does arithmetic on them (hybrid's related-chunk ranking, one cosine per chunk), where
        arrays skip a list conversion each way; anything needing a list gets one with `.tolist()`.
        """
        found = [i for i in ids if i in self._index]
        rows = self._matrix[[self._index[i] for i in found]]  # one copy, detached from the store
        return dict(zip(found, rows, strict=True))

    async def index_done_callback(self) -> None:
        """Write the rows changed since the last flush, in one transaction."""
        if not self._dirty and not self._deleted:
            return
        upserts = [
            (i, self._matrix[self._index[i]].tobytes(), json.dumps(self._meta[i], ensure_ascii=False), self._created[i])
            for i in self._dirty
            if i in self._index
        ]
        deletes = [(i,) for i in self._deleted]
        self._dirty, self._deleted = set(), set()
        await asyncio.to_thread(self._write, upserts, deletes)

    def _write(self, upserts: list[tuple[str, bytes, str, int]], deletes: list[tuple[str]]) -> None:
        if self._db is None:
            return
        with self._db_lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany("DELETE FROM rows WHERE id=?", deletes)
                self._db.executemany("INSERT OR REPLACE INTO rows VALUES (?,?,?,?)", upserts)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    async def drop_pending_index_ops(self) -> None:
        return None  # rows are applied at upsert; there is no buffer to discard

    async def drop(self) -> dict[str, str]:
        self._ids, self._index, self._meta, self._created = [], {}, {}, {}
        self._matrix = np.zeros((16, self._dim), dtype=np.float32)
        self._dirty, self._deleted = set(), set()
        if self._db is not None:
            with self._db_lock:
                self._db.execute("DELETE FROM rows")
        return {"status": "success", "message": "data dropped"}
