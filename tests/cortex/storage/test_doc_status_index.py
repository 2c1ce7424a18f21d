"""CORTEX's indexed duplicate checks give what LightRAG's JSON status store finds by scanning its rows."""

from __future__ import annotations

from typing import Any

import pytest
from lightrag.base import SourceAbsent, SourceConflict, SourceUnique
from lightrag.kg.json_doc_status_impl import JsonDocStatusStorage

from cortex.storage.coalesced import CortexDocStatusStorage
from tests.cortex.storage.conftest import PairFn


def _row(content_hash: str, path: str, created: str, **metadata: Any) -> dict[str, Any]:
    return {
        "status": "processed",
        "content_summary": path,
        "content_length": 10,
        "content_hash": content_hash,
        "file_path": path,
        "created_at": created,
        "updated_at": created,
        "chunks_count": 1,
        "chunks_list": [],
        "metadata": metadata,
    }


ROWS = {
    "doc-a": _row("h1", "a.txt", "2026-01-01T00:00:02"),
    "doc-b": _row("h1", "b.txt", "2026-01-01T00:00:01"),  # same text, earlier
    "doc-c": _row("h1", "c.txt", "2026-01-01T00:00:03", is_duplicate=True, original_doc_id="doc-a"),
    "doc-d": _row("h2", "a.txt", "2026-01-01T00:00:04"),  # a second primary row for a.txt
    "doc-e": _row("h3", "e.txt", "2026-01-01T00:00:05"),
}


async def _answers(store: Any) -> list[Any]:
    out: list[Any] = []
    for content_hash in ("h1", "h2", "h3", "h4", ""):
        for exclude in (None, "doc-a", "doc-b", "doc-d"):
            found = await store.get_doc_by_content_hash(content_hash, exclude_doc_id=exclude)
            out.append(found[0] if found else None)
    for path in ("a.txt", "b.txt", "c.txt", "e.txt", "nobody.txt", "unknown_source"):
        source = await store.resolve_doc_source_strict(path)
        if isinstance(source, SourceUnique):
            out.append(("unique", source.doc_id))
        elif isinstance(source, SourceConflict):
            out.append(("conflict", sorted(source.sample_doc_ids)))
        else:
            assert isinstance(source, SourceAbsent)
            out.append("absent")
    return out


@pytest.mark.asyncio
async def test_indexed_answers_match_lightrags_scan_through_writes(storage_pair: PairFn) -> None:
    ours, stock = storage_pair(CortexDocStatusStorage, JsonDocStatusStorage)
    for store in (ours, stock):
        await store.initialize()
        await store.upsert({k: dict(v) for k, v in ROWS.items()})
    first = await _answers(ours)
    assert first == await _answers(stock)
    assert first[0] == "doc-b" and first[2] == "doc-a"  # the earliest holder; then the next one
    assert ("conflict", ["doc-a", "doc-d"]) in first
    assert ours._by_hash["h1"] == {"doc-a", "doc-b", "doc-c"}  # answered from the index

    # Rows deleted, replaced with another hash, rewritten in place, added: still the same answers.
    for store in (ours, stock):
        await store.delete(["doc-b"])
        await store.upsert({"doc-e": _row("h2", "e2.txt", "2026-01-01T00:00:05")})
        await store.update_doc_status_fields("doc-d", {"file_path": "d.txt"})
        await store.upsert({"doc-f": _row("h3", "a.txt", "2026-01-01T00:00:06")})
    second = await _answers(ours)
    assert second == await _answers(stock)
    assert second != first

    # A row LightRAG rewrites behind the hooks (its flush reloads sanitised rows): found after the write.
    ours._data["doc-a"] = _row("h9", "a9.txt", "2026-01-01T00:00:02")
    await ours.flush_now()
    assert (await ours.get_doc_by_content_hash("h9") or ("",))[0] == "doc-a"
    assert await ours.get_doc_by_content_hash("h1", exclude_doc_id="doc-c") is None

    await ours.drop()
    assert await ours.get_doc_by_content_hash("h1") is None
    for store in (ours, stock):
        await store.finalize()
