"""`synapse cortex migrate`: a file store copied into PostgreSQL keeps every row and vector and answers queries."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cortex import Cortex, CortexError, EmbedderMismatchError, QueryRequest
from cortex.migrate import migrate
from cortex.storage.postgres import PgTarget, load_manifest, workspace_rows
from tests.conftest import HashingEmbedder
from tests.cortex.conftest import cortex_settings
from tests.cortex.postgres.conftest import DOCS, pg_settings, store_name

pytestmark = [pytest.mark.postgres, pytest.mark.asyncio]


NAMESPACES = ("chunks_vdb", "entities_vdb", "relationships_vdb")


async def _vectors(cortex: Cortex, ids: dict[str, list[str]]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for namespace in NAMESPACES:
        found = await getattr(cortex.rag, namespace).get_vectors_by_ids(ids[namespace])
        out.update({k: np.asarray(v, dtype=np.float64) for k, v in found.items()})
    return out


async def test_migration_keeps_every_row_and_vector_and_the_copy_answers(
    file_store: Path, postgres_url: str, tmp_path: Path
) -> None:
    store = store_name()
    steps: list[tuple[str, int, int]] = []
    report = await migrate(cortex_settings(file_store), postgres_url, store=store, progress=lambda *a: steps.append(a))

    counts = {c.namespace: (c.source, c.target) for c in report.counts}
    assert all(source == target for source, target in counts.values()), counts
    assert counts["full_docs"][0] == counts["doc_status"][0] == len(DOCS)
    assert counts["chunks_vdb"][0] == counts["text_chunks"][0] >= 83 + len(DOCS)  # TRIZ chunks and the documents
    assert counts["entities_vdb"][0] == counts["graph_nodes"][0] == 83
    assert counts["relationships_vdb"][0] == counts["graph_edges"][0] > 600
    assert report.vectors_compared >= 3 * 32 and report.max_vector_error < 1e-5
    assert {s for s, _, _ in steps} >= {"full_docs", "chunks_vdb", "graph", "check"}
    assert report.documents == len(DOCS) and report.graph_storage == "PGTableGraphStorage"

    # Independently of the report: the same vectors on both sides, for a sample of chunk ids.
    embedder = HashingEmbedder()
    async with Cortex(cortex_settings(file_store), embedder=embedder, cache_dir=tmp_path / "c1") as old:
        ids = {n: sorted(getattr(old.rag, n)._ids)[::10] for n in NAMESPACES}
        before = await _vectors(old, ids)
    migrated = pg_settings(file_store, postgres_url, store)
    async with Cortex(migrated, embedder=embedder, cache_dir=tmp_path / "c2") as new:
        assert new.kg_builds == 0 and embedder.encoded == 0  # nothing rebuilt, nothing embedded again
        after = await _vectors(new, ids)
        assert before.keys() == after.keys() and len(before) > 70
        assert max(float(np.abs(before[i] - after[i]).max()) for i in before) < 1e-5

        docs = await new.list_documents()
        assert sorted(d.name for d in docs) == sorted(DOCS) and all(d.status == "processed" for d in docs)
        cell = await new.query(QueryRequest(query="make the part lighter without losing strength", mode="hybrid"))
        assert cell.sources[0].id == "triz:matrix:1-14"
        pump = await new.query(QueryRequest(query="pump impeller cavitation bypass valve", mode="naive"))
        hits = [s for s in pump.sources if s.document == "report.pdf"]
        assert hits and hits[0].page == 2
        # Collections are CORTEX's records, next to the stores: they come along, and scope the copy's queries.
        assert {d.name for d in docs if d.collection == "aero"} == {"bracket.md"}
        scoped = await new.query(
            QueryRequest(query="pump impeller cavitation bypass valve", mode="naive", collections=["aero"])
        )
        assert not {s.document for s in scoped.sources if s.document} - {"bracket.md"}
        # The migrated store goes on taking documents.
        await new.add_document("more.md", b"Heat pipes move heat from the chip to a remote radiator without a fan.")
        await new.wait_idle(60)
        assert len(await new.list_documents()) == len(DOCS) + 1


async def test_a_store_already_there_is_refused_unless_forced(
    file_store: Path, postgres_url: str, tmp_path: Path
) -> None:
    store = store_name()
    first = await migrate(cortex_settings(file_store), postgres_url, store=store)
    with pytest.raises(CortexError, match="already holds a CORTEX store") as refused:
        await migrate(cortex_settings(file_store), postgres_url, store=store)
    assert "--force" in (refused.value.hint or "")

    target = PgTarget.parse(postgres_url)
    second = await migrate(cortex_settings(file_store), postgres_url, store=store, force=True)
    manifest = await load_manifest(target, store)
    assert manifest is not None and manifest.workspace == second.workspace != first.workspace
    assert sum((await workspace_rows(target, first.workspace)).values()) == 0  # the replaced copy is gone
    assert sum((await workspace_rows(target, second.workspace)).values()) > 0


async def test_a_store_of_another_embedder_is_refused(file_store: Path, postgres_url: str, tmp_path: Path) -> None:
    class Other(HashingEmbedder):
        name = "other-hashing"

    store = store_name()
    async with Cortex(pg_settings(tmp_path / "other", postgres_url, store), embedder=Other(), cache_dir=tmp_path):
        pass
    with pytest.raises(EmbedderMismatchError, match="other-hashing"):
        await migrate(cortex_settings(file_store), postgres_url, store=store)


async def test_an_unreachable_target_is_named(file_store: Path) -> None:
    from tests.pg_server import free_port

    with pytest.raises(CortexError, match="cannot reach PostgreSQL") as info:
        await migrate(cortex_settings(file_store), f"postgresql://u:secret@127.0.0.1:{free_port()}/db")
    assert "secret" not in info.value.message and "CORTEX_POSTGRES_URL" in (info.value.hint or "")
