"""The in-process Cortex on real LightRAG file storages (fake embedder): documents, queries, the TRIZ graph."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from cortex import (
    BadDocumentError,
    Cortex,
    CortexError,
    DocumentNotFoundError,
    EmbedderMismatchError,
    QueryRequest,
    UnsupportedDocumentError,
)
from synapse.embeddings import Vectors
from tests.conftest import HashingEmbedder
from tests.cortex.conftest import EN_BRACKET, RU_COOLING, StoreSettings, cortex_settings, make_pdf


def _doc_sources(result: object) -> list[str]:
    return [s.document or "" for s in result.sources if s.kind in ("document", "dialogue")]  # type: ignore[attr-defined]


@pytest.mark.asyncio
async def test_fresh_store_has_the_triz_graph(cortex_store: Cortex) -> None:
    cortex = cortex_store
    health = await cortex.health()
    assert health.status == "ok" and health.embedder == "test-hashing" and health.dim == 256
    assert health.knowledge_version and health.documents == 0
    result = await cortex.query(QueryRequest(query="make the part lighter without losing strength", mode="hybrid"))
    assert result.mode == "hybrid" and result.keywords
    ids = [s.id for s in result.sources]
    assert ids[0] == "triz:matrix:1-14"
    principles = {int(s.id.rsplit(":", 1)[1]) for s in result.sources if s.kind == "principle"}
    assert principles & {28, 27, 18, 40, 1, 8, 15}
    assert "(1,14)" in result.context


@pytest.mark.asyncio
@pytest.mark.parametrize("mode", ["naive", "local", "global", "hybrid", "mix"])
async def test_every_mode_runs_without_an_llm(cortex: Cortex, mode: str) -> None:
    result = await cortex.query(QueryRequest(query="separation in time of conflicting requirements", mode=mode))
    assert result.mode == mode and result.mode_requested == mode
    assert result.sources and result.context
    assert result.sources == sorted(result.sources, key=lambda s: -s.score)


@pytest.mark.asyncio
async def test_documents_add_query_idempotent_delete(cortex_store: Cortex) -> None:
    cortex = cortex_store
    en = await cortex.add_document("bracket.md", EN_BRACKET.encode(), tags=["casting"])
    ru = await cortex.add_document("chat.txt", RU_COOLING.encode(), kind="dialogue")
    again = await cortex.add_document("renamed.md", EN_BRACKET.encode())
    assert again.id == en.id and again.name == "bracket.md"
    await cortex.wait_idle(60)
    docs = await cortex.list_documents()
    assert sorted(d.id for d in docs) == sorted([en.id, ru.id])
    assert all(d.status == "processed" and d.chunks >= 1 for d in docs)
    assert (await cortex.get_document(en.id)).tags == ["casting"]

    hit = await cortex.query(QueryRequest(query="aluminium bracket lattice of ribs casting", mode="naive"))
    assert "bracket.md" in _doc_sources(hit)
    dialogue = await cortex.query(QueryRequest(query="насосы охлаждения серверной стойки", mode="mix"))
    assert any(s.kind == "dialogue" and s.document == "chat.txt" for s in dialogue.sources)

    await cortex.delete_document(en.id)
    with pytest.raises(DocumentNotFoundError):
        await cortex.get_document(en.id)
    with pytest.raises(DocumentNotFoundError):
        await cortex.delete_document(en.id)
    gone = await cortex.query(QueryRequest(query="aluminium bracket lattice of ribs casting", mode="naive"))
    assert "bracket.md" not in _doc_sources(gone)
    assert [d.id for d in await cortex.list_documents()] == [ru.id]


@pytest.mark.asyncio
async def test_pdf_sources_carry_their_page(cortex: Cortex) -> None:
    pages = ["Cover page of the maintenance report.", "Pump impeller cavitation was cured by a bypass valve."]
    info = await cortex.add_document("report.pdf", make_pdf(pages))
    await cortex.wait_idle(60)
    result = await cortex.query(QueryRequest(query="pump impeller cavitation bypass valve", mode="naive"))
    hits = [s for s in result.sources if s.document == "report.pdf"]
    assert hits and hits[0].page == 2  # one chunk over both pages: most of it is on page 2
    assert (await cortex.get_document(info.id)).content_type == "application/pdf"


@pytest.mark.asyncio
async def test_bad_uploads_leave_the_store_unchanged(cortex_store: Cortex) -> None:
    cortex = cortex_store
    await cortex.add_document("keep.md", EN_BRACKET.encode())
    await cortex.wait_idle(60)
    before = await cortex.list_documents()
    for name, data, error in [
        ("empty.txt", b"", BadDocumentError),
        ("x.exe", b"MZ....", UnsupportedDocumentError),
        ("broken.pdf", b"%PDF-1.4 garbage", BadDocumentError),
    ]:
        with pytest.raises(error):
            await cortex.add_document(name, data)
    with pytest.raises(BadDocumentError):
        await cortex.add_documents([("good.txt", RU_COOLING.encode()), ("bad.txt", b"")])
    assert await cortex.list_documents() == before


class SlowEmbedder(HashingEmbedder):
    """Takes a while for every document batch, so processing is still running when a query comes."""

    def _encode(self, texts: list[str]) -> Vectors:
        time.sleep(0.01 * sum("slowdoc" in t for t in texts))
        return super()._encode(texts)


@pytest.mark.asyncio
async def test_queries_answer_while_a_document_is_processing(fresh_dir: Path, tmp_path: Path) -> None:
    settings = cortex_settings(fresh_dir, chunk_tokens=50)
    # About 400 chunks: several embedding batches of ~0.6 s; a query waits for one batch at most.
    text = " ".join(f"slowdoc paragraph {i} about heat exchangers and pumps." for i in range(1200))
    async with Cortex(settings, embedder=SlowEmbedder(), cache_dir=tmp_path) as cortex:
        info = await cortex.add_document("long.txt", text.encode())
        await asyncio.sleep(0.05)
        result = await cortex.query(QueryRequest(query="separation in space", mode="mix"))
        assert result.sources
        assert (await cortex.get_document(info.id)).status in ("pending", "processing")
        await cortex.wait_idle(120)
        assert (await cortex.get_document(info.id)).status == "processed"


class OtherEmbedder(HashingEmbedder):
    name = "other-hashing"


@pytest.mark.asyncio
async def test_another_embedder_is_refused_and_names_reindex(store_settings: StoreSettings, tmp_path: Path) -> None:
    settings = store_settings()
    async with Cortex(settings, embedder=HashingEmbedder(), cache_dir=tmp_path) as cortex:
        await cortex.add_document("keep.md", EN_BRACKET.encode())
        await cortex.wait_idle(60)
    with pytest.raises(EmbedderMismatchError) as info:
        await Cortex(settings, embedder=OtherEmbedder(), cache_dir=tmp_path).start()
    assert "synapse cortex reindex" in (info.value.hint or "")
    assert "test-hashing" in info.value.message
    async with Cortex(settings, embedder=HashingEmbedder(), cache_dir=tmp_path) as cortex:
        assert len(await cortex.list_documents()) == 1


def test_graph_built_once_rebuilt_on_new_knowledge_and_reopened_on_new_loops(
    fresh_dir: Path, tmp_path: Path, kb: object
) -> None:
    async def open_and_count(knowledge: object = None) -> tuple[int, int]:
        c = Cortex(cortex_settings(fresh_dir), embedder=HashingEmbedder(), cache_dir=tmp_path, knowledge=knowledge)  # type: ignore[arg-type]
        async with c:
            docs = len(await c.list_documents())
            if not docs:
                await c.add_document("keep.md", EN_BRACKET.encode())
                await c.wait_idle(60)
            result = await c.query(QueryRequest(query="aluminium bracket lattice", mode="naive"))
            assert "keep.md" in _doc_sources(result)
            return c.kg_builds, docs

    assert asyncio.run(open_and_count()) == (1, 0)
    assert asyncio.run(open_and_count()) == (0, 1)  # same knowledge: not rebuilt; the document survived
    changed = kb.model_copy(update={"version": "changed"})  # type: ignore[attr-defined]
    assert asyncio.run(open_and_count(changed)) == (1, 1)


@pytest.mark.asyncio
async def test_one_store_opens_once_per_process(cortex: Cortex) -> None:
    with pytest.raises(CortexError, match="already open"):
        await Cortex(cortex.settings, embedder=HashingEmbedder()).start()


def test_a_store_used_by_another_process_is_refused(fresh_dir: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    fresh_dir.mkdir(parents=True)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from cortex.workspace import StoreLock; "
            "lock = StoreLock(Path(sys.argv[1])); lock.acquire(); print('locked', flush=True); time.sleep(60)",
            str(fresh_dir),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(CortexError, match="in use by another process") as info:
            asyncio.run(Cortex(cortex_settings(fresh_dir), embedder=HashingEmbedder(), cache_dir=tmp_path).start())
        assert "--url" in (info.value.hint or "")
    finally:
        holder.kill()
        holder.wait()
