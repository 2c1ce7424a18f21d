"""`synapse cortex reindex` on a PostgreSQL store: a new embedder's store replaces the old one in the database."""

from __future__ import annotations

from pathlib import Path

import pytest

from cortex import Cortex, EmbedderMismatchError, QueryRequest
from cortex.reindex import reindex
from cortex.storage.postgres import PgTarget, load_manifest, workspace_rows
from tests.conftest import HashingEmbedder
from tests.cortex.conftest import EN_BRACKET
from tests.cortex.postgres.conftest import pg_settings, store_name

pytestmark = [pytest.mark.postgres, pytest.mark.asyncio]


class OtherEmbedder(HashingEmbedder):
    name = "other-hashing"
    dim = 128


async def test_reindex_swaps_in_a_store_built_with_the_new_embedder(postgres_url: str, tmp_path: Path) -> None:
    settings = pg_settings(tmp_path / "store", postgres_url, store_name())
    target = PgTarget.parse(postgres_url)
    async with Cortex(settings, embedder=HashingEmbedder(), cache_dir=tmp_path / "c") as cortex:
        await cortex.add_document("bracket.md", EN_BRACKET.encode())
        await cortex.wait_idle(60)
    old = await load_manifest(target, settings.postgres_workspace)
    assert old is not None
    with pytest.raises(EmbedderMismatchError) as refused:
        await Cortex(settings, embedder=OtherEmbedder(), cache_dir=tmp_path / "c").start()
    assert "synapse cortex reindex" in (refused.value.hint or "")

    report = await reindex(settings, embedder=OtherEmbedder())
    assert (report.old_embedder, report.new_embedder, report.documents) == ("test-hashing", "other-hashing", 1)
    new = await load_manifest(target, settings.postgres_workspace)
    assert new is not None and (new.embedder, new.dim) == ("other-hashing", 128) and new.workspace != old.workspace
    assert sum((await workspace_rows(target, old.workspace)).values()) == 0
    assert await load_manifest(target, settings.postgres_workspace[:38] + "_reindex") is None

    async with Cortex(settings, embedder=OtherEmbedder(), cache_dir=tmp_path / "c") as cortex:
        assert [d.name for d in await cortex.list_documents()] == ["bracket.md"]
        hit = await cortex.query(QueryRequest(query="aluminium bracket lattice of ribs", mode="naive"))
        assert any(s.document == "bracket.md" for s in hit.sources)
    assert not (tmp_path / "store.reindex").exists() and not (tmp_path / "store.old").exists()
