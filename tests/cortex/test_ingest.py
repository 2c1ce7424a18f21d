"""The document queue: durable acceptance, recovery of what a crash left, deletion of every trace, the store check."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import threading
from pathlib import Path

import pytest

from cortex import Cortex, QueryRequest
from cortex.lightrag_compat import chunk_owners, vector_owners
from cortex.registry import Registry
from cortex.storage.journal import _replay
from synapse.embeddings import Vectors
from tests.conftest import HashingEmbedder
from tests.cortex.conftest import EN_BRACKET, RU_COOLING, cortex_settings

pytestmark = pytest.mark.asyncio

NOTE = "The pump seal number seven leaks at high pressure during the winter shift."


def _open(data_dir: Path, tmp_path: Path, embedder: HashingEmbedder | None = None) -> Cortex:
    return Cortex(cortex_settings(data_dir), embedder=embedder or HashingEmbedder(), cache_dir=tmp_path / "cache")


async def _documents(cortex: Cortex, query: str) -> list[str]:
    result = await cortex.query(QueryRequest(query=query, mode="naive", top_k=5))
    return [s.document for s in result.sources if s.document]


async def test_an_accepted_document_is_committed_with_its_text_before_the_answer(
    fresh_dir: Path, tmp_path: Path
) -> None:
    async with _open(fresh_dir, tmp_path) as cortex:
        doc = await cortex.add_document("seal.txt", NOTE.encode())
        # Another connection, as a process started after a crash would see the file.
        db = sqlite3.connect(fresh_dir / "cortex.sqlite3")
        try:
            row = db.execute("SELECT status FROM documents WHERE id=?", (doc.id,)).fetchone()
            text = db.execute("SELECT text FROM document_texts WHERE id=?", (doc.id,)).fetchone()
        finally:
            db.close()
        assert row is not None and text is not None and text[0] == NOTE
        await cortex.wait_idle(60)


async def test_a_document_lightrag_never_saw_is_processed_at_the_next_start(fresh_dir: Path, tmp_path: Path) -> None:
    async with _open(fresh_dir, tmp_path):
        pass
    # What a SIGKILL right after the 202 leaves: the registry's row and text, nothing in LightRAG's stores.
    registry = Registry(fresh_dir / "cortex.sqlite3")
    try:
        registry.insert(
            "doc-" + "a" * 32,
            name="seal.txt",
            kind="document",
            content_type="text/plain",
            size=len(NOTE),
            sha256="a" * 64,
            tags=[],
            page_starts=[],
            text=NOTE,
        )
    finally:
        registry.close()
    async with _open(fresh_dir, tmp_path) as cortex:
        await cortex.wait_idle(60)
        assert (await cortex.get_document("doc-" + "a" * 32)).status == "processed"
        assert "seal.txt" in await _documents(cortex, NOTE)


async def test_uploading_a_stuck_document_again_queues_it_again(fresh_dir: Path, tmp_path: Path) -> None:
    sha = hashlib.sha256(NOTE.encode()).hexdigest()
    async with _open(fresh_dir, tmp_path) as cortex:
        # A row left `pending` with nothing behind it: an older CORTEX crashed before LightRAG wrote anything.
        cortex.registry.insert(
            f"doc-{sha[:32]}",
            name="seal.txt",
            kind="document",
            content_type="text/plain",
            size=len(NOTE),
            sha256=sha,
            tags=[],
            page_starts=[],
        )
        again = await cortex.add_document("seal.txt", NOTE.encode())
        assert again.id == f"doc-{sha[:32]}"
        await cortex.wait_idle(30)
        assert (await cortex.get_document(again.id)).status == "processed"
        assert "seal.txt" in await _documents(cortex, NOTE)


async def test_delete_removes_the_chunks_and_vectors_of_a_half_processed_document(
    fresh_dir: Path, tmp_path: Path
) -> None:
    async with _open(fresh_dir, tmp_path) as cortex:
        await cortex.add_document("bracket.md", EN_BRACKET.encode())
        await cortex.wait_idle(60)
        # A document whose processing stopped after its chunk and vector were written, before its status was.
        half = "doc-" + "b" * 32
        cortex.registry.insert(
            half,
            name="seal.txt",
            kind="document",
            content_type="text/plain",
            size=len(NOTE),
            sha256="b" * 64,
            tags=[],
            page_starts=[],
        )
        chunk = {"content": NOTE, "full_doc_id": half, "file_path": half, "tokens": 20, "chunk_order_index": 0}
        await cortex.rag.text_chunks.upsert({"chunk-half": chunk})
        await cortex.rag.chunks_vdb.upsert({"chunk-half": chunk})
        assert "chunk-half" in ((await vector_owners(cortex.rag.chunks_vdb)) or {})
        await cortex.delete_document(half)
        await cortex.wait_idle(60)
        assert "chunk-half" not in ((await vector_owners(cortex.rag.chunks_vdb)) or {})
        assert "chunk-half" not in ((await chunk_owners(cortex.rag.text_chunks)) or {})
        assert not (await cortex.check()).problems


class BlockingEmbedder(HashingEmbedder):
    """Holds the embedding of texts mentioning "glacier" until released (or 30 s)."""

    def __init__(self) -> None:
        super().__init__()
        self.entered, self.release = threading.Event(), threading.Event()

    def _encode(self, texts: list[str]) -> Vectors:
        if any("glacier" in t for t in texts):
            self.entered.set()
            self.release.wait(30)
        return super()._encode(texts)


async def test_a_document_being_processed_is_deleted_at_once_and_the_others_go_on(
    fresh_dir: Path, tmp_path: Path
) -> None:
    embedder = BlockingEmbedder()
    async with _open(fresh_dir, tmp_path, embedder) as cortex:
        slow = await cortex.add_document("glacier.txt", b"The glacier survey drone loses its battery heat at night.")
        other = await cortex.add_document("seal.txt", NOTE.encode())
        assert await asyncio.to_thread(embedder.entered.wait, 30), "the slow document never reached the embedder"
        try:
            await asyncio.wait_for(cortex.delete_document(slow.id), 5)
        finally:
            embedder.release.set()
        assert slow.id not in [d.id for d in await cortex.list_documents()]
        await cortex.wait_idle(60)
        assert (await cortex.get_document(other.id)).status == "processed"
        assert await cortex.rag.doc_status.get_by_id(slow.id) is None
        owners = set(((await chunk_owners(cortex.rag.text_chunks)) or {}).values())
        assert slow.id not in owners and slow.id not in set(
            ((await vector_owners(cortex.rag.chunks_vdb)) or {}).values()
        )
        assert "glacier.txt" not in await _documents(cortex, "glacier survey drone battery heat")


async def test_processed_means_on_disk(fresh_dir: Path, tmp_path: Path) -> None:
    async with _open(fresh_dir, tmp_path) as cortex:
        doc = await cortex.add_document("seal.txt", NOTE.encode())
        await cortex.wait_idle(60)
        assert (await cortex.get_document(doc.id)).status == "processed"
        # Read while the store is open: a crash now must find the chunk's text in the file.
        files = list((fresh_dir / "rag").glob("*/kv_store_text_chunks.json"))
        assert files, "no chunk store on disk"
        chunks = json.loads(files[0].read_text(encoding="utf-8"))
        for key, row in _replay([Path(f"{files[0]}.journal.old"), Path(f"{files[0]}.journal")]):
            chunks[key] = row
        assert any(row and row.get("full_doc_id") == doc.id for row in chunks.values())


async def test_check_finds_and_repairs_a_missing_chunk_and_an_orphan_vector(fresh_dir: Path, tmp_path: Path) -> None:
    async with _open(fresh_dir, tmp_path) as cortex:
        doc = await cortex.add_document("cooling.txt", RU_COOLING.encode())
        await cortex.wait_idle(60)
        assert (await cortex.check()).problems == []
        row = await cortex.rag.doc_status.get_by_id(doc.id)
        await cortex.rag.text_chunks.delete(list(row["chunks_list"]))
        orphan = {"content": NOTE, "full_doc_id": "doc-gone", "file_path": "doc-gone"}
        await cortex.rag.chunks_vdb.upsert({"chunk-orphan": orphan})
        report = await cortex.check()
        assert {(p.kind, p.document) for p in report.problems} == {
            ("missing_chunks", doc.id),
            ("orphan_vectors", "doc-gone"),
        }
        repaired = await cortex.check(repair=True)
        assert repaired.repaired and repaired.requeued == [doc.id]
        await cortex.wait_idle(60)
        assert (await cortex.check()).problems == []
        assert (await cortex.get_document(doc.id)).status == "processed"
        assert "cooling.txt" in await _documents(cortex, RU_COOLING)
