"""Duplicate checks of LightRAG's JSON document status by index instead of a scan of every row.

LightRAG asks the status store, for every document it enqueues and again when it parses it, whether
another row has the same content hash, and whether a row already claims the same source name. The JSON
store answers by walking all rows in Python, so ingest slowed as the store grew: at 20,000 documents
those walks were most of the event loop's time. Here both questions go through dictionaries kept in
step with the rows; the rows themselves stay LightRAG's, and every candidate is checked against its row
with LightRAG's own predicates, so the answers are the ones the scan gives.
"""

from __future__ import annotations

import copy
from typing import Any

from lightrag.base import SourceAbsent, SourceConflict, SourceUnique  # type: ignore[import-untyped]
from lightrag.exceptions import StorageNotInitializedError  # type: ignore[import-untyped]

from cortex.lightrag_compat import (
    is_duplicate_row,
    json_rows,
    points_at_as_duplicate,
    row_sort_key,
    scheduling_record,
    storage_lock,
)

_INDEXED_FIELDS = ("content_hash", "file_path")


class IndexedDuplicates:
    """Mixin for JsonDocStatusStorage: content-hash and source-name look-ups through an index.

    The writes LightRAG makes per document (upsert, field updates, delete) keep the index in step as
    they go. Any other change (a file write, which may reload sanitised rows; a conflict repair; a drop)
    marks the index stale, and so does a row count that disagrees with it: the next look-up rebuilds it.
    Writes are seconds apart, so that is rare. (Comparing all row ids on every look-up instead cost a
    twentieth of the event loop during a 2,000-document ingest: two look-ups per document.)
    """

    _indexed: set[str]
    _by_hash: dict[str, set[str]]
    _by_path: dict[str, set[str]]
    _keys_of: dict[str, tuple[str, str]]

    _index_stale: bool

    def _sync_index(self) -> None:
        if not hasattr(self, "_indexed"):
            self._indexed, self._by_hash, self._by_path, self._keys_of = set(), {}, {}, {}
            self._index_stale = True
        if not self._index_stale and len(json_rows(self)) == len(self._indexed):
            return
        self._indexed, self._by_hash, self._by_path, self._keys_of = set(), {}, {}, {}
        for doc_id in json_rows(self):
            self._index(doc_id)
        self._index_stale = False

    def _index(self, doc_id: str) -> None:
        row = json_rows(self).get(doc_id)
        if not isinstance(row, dict):
            return
        content_hash, path = str(row.get("content_hash") or ""), str(row.get("file_path") or "")
        self._by_hash.setdefault(content_hash, set()).add(doc_id)
        self._by_path.setdefault(path, set()).add(doc_id)
        self._keys_of[doc_id] = (content_hash, path)
        self._indexed.add(doc_id)

    def _reindex(self, doc_ids: Any) -> None:
        """Index rows afresh after a write: a replaced row may carry another hash or name."""
        if not hasattr(self, "_indexed"):
            return  # the first look-up indexes every row
        for doc_id in doc_ids:
            self._unindex(doc_id)
            self._index(doc_id)

    def _mark_stale(self) -> None:
        if hasattr(self, "_indexed"):
            self._index_stale = True

    def _unindex(self, doc_id: str) -> None:
        if not hasattr(self, "_indexed"):
            return
        self._indexed.discard(doc_id)
        keys = self._keys_of.pop(doc_id, None)
        if keys is None:
            return
        for index, key in ((self._by_hash, keys[0]), (self._by_path, keys[1])):
            ids = index.get(key)
            if ids is not None:
                ids.discard(doc_id)
                if not ids:
                    del index[key]

    async def upsert(self, data: dict[str, dict[str, Any]]) -> None:
        try:
            await super().upsert(data)  # type: ignore[misc]
        finally:
            self._reindex(data)

    async def update_doc_status_fields(self, doc_id: str, fields: dict[str, Any], **kwargs: Any) -> None:
        try:
            await super().update_doc_status_fields(doc_id, fields, **kwargs)  # type: ignore[misc]
        finally:
            if any(name in fields for name in _INDEXED_FIELDS):
                self._reindex([doc_id])

    async def delete(self, doc_ids: list[str]) -> None:
        try:
            await super().delete(doc_ids)  # type: ignore[misc]
        finally:
            for doc_id in doc_ids:
                self._unindex(doc_id)

    def _after_write(self) -> None:
        super()._after_write()  # type: ignore[misc]
        self._mark_stale()  # a write may reload sanitised rows from disk

    async def repair_source_conflict(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().repair_source_conflict(*args, **kwargs)  # type: ignore[misc]
        finally:
            self._mark_stale()

    async def drop(self) -> dict[str, str]:
        try:
            return await super().drop()  # type: ignore[misc,no-any-return]
        finally:
            self._mark_stale()

    def _require_lock(self) -> None:
        if storage_lock(self) is None:
            raise StorageNotInitializedError("JsonDocStatusStorage")

    async def get_doc_by_content_hash(
        self, content_hash: str, *, exclude_doc_id: str | None = None
    ) -> tuple[str, dict[str, Any]] | None:
        """The earliest other row with this content hash, as LightRAG's scan finds it."""
        if not content_hash:
            return None
        self._require_lock()
        best: tuple[tuple[str, str], str, dict[str, Any]] | None = None
        async with storage_lock(self):
            self._sync_index()
            for doc_id in self._by_hash.get(content_hash, ()):
                row = json_rows(self).get(doc_id)
                if not isinstance(row, dict) or doc_id == exclude_doc_id:
                    continue
                if points_at_as_duplicate(self, row, exclude_doc_id):
                    continue
                if row.get("content_hash") != content_hash:
                    continue
                sort_key = row_sort_key(self, doc_id, row)
                if best is None or sort_key < best[0]:
                    best = (sort_key, doc_id, row)
        if best is None:
            return None
        return best[1], copy.deepcopy(best[2])

    async def resolve_doc_source_strict(self, canonical_source_key: str) -> Any:
        """Absent, unique or conflicting primary rows for a source name, as LightRAG's scan decides."""
        self._require_lock()
        if not canonical_source_key or canonical_source_key == "unknown_source":
            return SourceAbsent()
        candidates: list[tuple[str, dict[str, Any]]] = []
        async with storage_lock(self):
            self._sync_index()
            for doc_id in sorted(self._by_path.get(canonical_source_key, ())):
                row = json_rows(self).get(doc_id)
                if not isinstance(row, dict) or row.get("file_path") != canonical_source_key:
                    continue
                if is_duplicate_row(self, row):
                    continue
                candidates.append((doc_id, dict(row)))
                if len(candidates) >= 2:
                    break
        if not candidates:
            return SourceAbsent()
        if len(candidates) == 1:
            doc_id, row = candidates[0]
            return SourceUnique(doc_id=doc_id, doc=scheduling_record(self, doc_id, row))
        return SourceConflict(candidate_count=None, sample_doc_ids=tuple(d for d, _ in candidates))
