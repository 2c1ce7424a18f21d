"""A journal beside a LightRAG JSON store: the rows changed since its last full write, appended and fsync'd.

The JSON stores are rewritten whole, so CORTEX writes them seldom (coalesced.py). A document counts as
`processed` only once it is on disk, and rewriting every store for that cost 0.2 s at 2,000 documents.
Instead a checkpoint appends the changed rows (`journal_now`, milliseconds) to `<file>.journal`; the
file is read back over the JSON when the store opens. A full write first moves the journal aside
(`.journal.old`): what it holds is older than the data being written, and it is removed once the write
is done. A journal line cut short by a crash is the last one and is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from cortex.lightrag_compat import json_rows, storage_lock, store_file

log = logging.getLogger(__name__)


def _append(path: Path, lines: list[str]) -> None:
    with path.open("a", encoding="utf-8") as out:
        out.write("".join(lines))
        out.flush()
        os.fsync(out.fileno())


def _line(key: str, row: Any) -> str:
    return json.dumps({"k": key, "v": row}, ensure_ascii=False, default=str) + "\n"


def _replay(paths: list[Path]) -> list[tuple[str, Any]]:
    """(key, row or None for deleted) in the order they were written."""
    changes: list[tuple[str, Any]] = []
    for path in paths:
        if not path.exists():
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            try:
                entry = json.loads(line)
                changes.append((str(entry["k"]), entry.get("v")))
            except (ValueError, KeyError, TypeError):
                log.warning("%s: line %d is incomplete (a crash while it was written); skipped", path, number)
    return changes


class JournaledRows:
    """Mixin for LightRAG's JSON KV and document-status storages (before the coalescing mixin in the bases)."""

    storage_updated: Any
    _journal_dirty: set[str] | None = None
    _journal_lock_: asyncio.Lock | None = None

    @property
    def journal_lock(self) -> asyncio.Lock:
        """Held by an append and by a full write, so a journal is never moved aside while written."""
        if self._journal_lock_ is None:
            self._journal_lock_ = asyncio.Lock()
        return self._journal_lock_

    @property
    def _journal(self) -> Path:
        return Path(f"{store_file(self)}.journal")

    @property
    def _journal_old(self) -> Path:
        return Path(f"{store_file(self)}.journal.old")

    def _dirty(self) -> set[str]:
        if self._journal_dirty is None:
            self._journal_dirty = set()
        return self._journal_dirty

    async def initialize(self) -> None:
        await super().initialize()  # type: ignore[misc]
        changes = await asyncio.to_thread(_replay, [self._journal_old, self._journal])
        if not changes:
            return
        async with storage_lock(self):
            rows = json_rows(self)
            for key, row in changes:
                if row is None:
                    rows.pop(key, None)
                else:
                    rows[key] = row
            self.storage_updated.value = True  # the next full write takes the journal in
        self._journal_replayed()

    def _journal_replayed(self) -> None:
        """Hook for mixins that index the rows (the document status's duplicate index)."""

    async def upsert(self, data: dict[str, dict[str, Any]]) -> None:
        await super().upsert(data)  # type: ignore[misc]
        self._dirty().update(data)

    async def delete(self, ids: list[str]) -> None:
        await super().delete(ids)  # type: ignore[misc]
        self._dirty().update(ids)

    async def update_doc_status_fields(self, doc_id: str, fields: dict[str, Any], **kwargs: Any) -> None:
        await super().update_doc_status_fields(doc_id, fields, **kwargs)  # type: ignore[misc]
        self._dirty().add(doc_id)

    async def drop(self) -> dict[str, str]:
        result: dict[str, str] = await super().drop()  # type: ignore[misc]
        self._dirty().clear()
        for path in (self._journal, self._journal_old):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        return result

    async def journal_now(self) -> None:
        """Append the rows changed since the last call to the journal, fsync'd."""
        dirty = self._dirty()
        if not dirty:
            return
        keys, self._journal_dirty = sorted(dirty), set()
        async with self.journal_lock:
            async with storage_lock(self):
                rows = json_rows(self)
                lines = [_line(k, rows.get(k)) for k in keys]
            await asyncio.to_thread(_append, self._journal, lines)

    def _before_full_write(self) -> None:
        """The journal so far is older than the data about to be written: set it aside."""
        if self._journal.exists():
            if self._journal_old.exists():  # an earlier write did not finish: keep both, in order
                _append(self._journal_old, [self._journal.read_text(encoding="utf-8")])
                self._journal.unlink()
            else:
                os.replace(self._journal, self._journal_old)

    def _after_full_write(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._journal_old.unlink()
