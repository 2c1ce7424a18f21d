"""Rebuild a store's vectors with the embedder now configured (after changing CORTEX_EMBEDDER)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from cortex.documents import ParsedDocument, Upload
from cortex.errors import CortexError
from cortex.registry import DocumentRecord, Manifest, Registry
from cortex.service import Cortex
from cortex.storage.postgres import PgTarget
from synapse.config import CortexSettings
from synapse.embeddings import Embedder, Vectors


class ReindexReport(BaseModel):
    """What a reindex did."""

    data_dir: str
    old_embedder: str
    new_embedder: str
    documents: int
    seconds: float


class _StoredVectorsOnly(Embedder):
    """Stands in for the old embedder so the old store opens to be read; it never embeds."""

    def __init__(self, name: str, dim: int) -> None:
        self.name, self.dim = name, dim

    def _encode(self, texts: list[str]) -> Vectors:
        raise CortexError("the old store is opened read-only during a reindex", "this is a bug; please report it")


async def reindex(
    settings: CortexSettings,
    embedder: Embedder | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> ReindexReport:
    """Re-embed every document and the TRIZ graph into a new store, then swap it in; the old one is removed."""
    if settings.storage == "postgres":
        return await _reindex_postgres(settings, embedder, progress)
    t0 = time.perf_counter()
    data_dir = Path(settings.data_dir)
    if not (data_dir / "cortex.sqlite3").exists():
        raise CortexError(f"there is no CORTEX store in {data_dir}", "start `synapse cortex serve` once to create it")
    registry = Registry(data_dir / "cortex.sqlite3")
    try:
        manifest = registry.manifest()
        records = registry.all()
    finally:
        registry.close()
    if manifest is None:
        raise CortexError(f"the CORTEX store in {data_dir} has no manifest", "delete the folder and start again")

    items = await _read_documents(settings, manifest, records, progress)
    staging = data_dir.with_name(data_dir.name + ".reindex")
    shutil.rmtree(staging, ignore_errors=True)
    new_name = await _rebuild(
        settings.model_copy(update={"data_dir": staging}), embedder, items, progress, len(records)
    )
    _swap_in(staging, data_dir, progress)
    return ReindexReport(
        data_dir=str(data_dir),
        old_embedder=manifest.embedder,
        new_embedder=new_name,
        documents=len(items),
        seconds=round(time.perf_counter() - t0, 1),
    )


async def _read_documents(
    settings: CortexSettings, manifest: Manifest, records: list[DocumentRecord], progress: Callable[[str], None]
) -> list[Upload]:
    """Every document's text, read from the old store opened without its embedder."""
    progress(f"reading {len(records)} documents embedded with {manifest.embedder}")
    old = Cortex(settings, embedder=_StoredVectorsOnly(manifest.embedder, manifest.dim), build_graph=False)
    async with old:
        rows = await old.rag.full_docs.get_by_ids([r.info.id for r in records])
    texts = {r.info.id: str((row or {}).get("content", "")) for r, row in zip(records, rows, strict=True)}
    return _items(records, texts)


async def _rebuild(
    settings: CortexSettings,
    embedder: Embedder | None,
    items: list[Upload],
    progress: Callable[[str], None],
    stored: int,
) -> str:
    """Build the new store (TRIZ graph and documents) with the embedder now configured; returns its name.

    `stored` is how many documents the old store lists (`items` leaves out those without a text).
    """
    async with Cortex(settings, embedder=embedder) as fresh:
        progress(f"embedding the TRIZ graph and {stored} documents with {fresh.embedder.name}")
        await fresh.enqueue_parsed(items)
        await fresh.wait_idle(timeout=24 * 3600)
        return fresh.embedder.name


def _swap_in(staging: Path, data_dir: Path, progress: Callable[[str], None]) -> None:
    """Put the rebuilt store where the old one was; the old one is gone afterwards."""
    retired = data_dir.with_name(data_dir.name + ".old")
    shutil.rmtree(retired, ignore_errors=True)
    data_dir.rename(retired)
    staging.rename(data_dir)
    shutil.rmtree(retired, ignore_errors=True)
    progress("done")


def _items(records: list[DocumentRecord], texts: dict[str, str]) -> list[Upload]:
    return [
        Upload(
            ParsedDocument(
                name=r.info.name,
                content_type=r.info.content_type,
                sha256=r.info.sha256,
                size=r.info.size,
                text=texts[r.info.id],
                page_starts=r.page_starts,
            ),
            r.info.kind,
            r.info.tags,
            r.info.collection,
        )
        for r in reversed(records)  # oldest first, so the list keeps its order
        if texts.get(r.info.id)
    ]


async def _reindex_postgres(
    settings: CortexSettings, embedder: Embedder | None, progress: Callable[[str], None]
) -> ReindexReport:
    """The same for a PostgreSQL store: a staging store in the same database, then the names are swapped.

    The new store gets a LightRAG workspace of its own (vector tables are named after the embedder), so
    the old one keeps answering until the swap; its rows are deleted after it.
    """
    from cortex.migrate import drop_workspace
    from cortex.storage.postgres import PgTarget, delete_manifest, load_manifest

    t0 = time.perf_counter()
    data_dir = Path(settings.data_dir)
    target, store = PgTarget.parse(settings.postgres_url.get_secret_value()), settings.postgres_workspace
    manifest = await load_manifest(target, store)
    if manifest is None:
        raise CortexError(
            f"there is no CORTEX store {store!r} in {target.display()}",
            "start `synapse cortex serve` once to create it",
        )
    registry = Registry(data_dir / "cortex.sqlite3")
    try:
        records = registry.all()
    finally:
        registry.close()
    items = await _read_documents(settings, manifest, records, progress)

    staging_store = f"{store[:38]}_reindex"
    leftover = await load_manifest(target, staging_store)
    if leftover is not None:  # an earlier reindex that did not finish
        await drop_workspace(target, leftover.workspace)
        await delete_manifest(target, staging_store)
    staging = data_dir.with_name(data_dir.name + ".reindex")
    shutil.rmtree(staging, ignore_errors=True)
    new_settings = settings.model_copy(update={"data_dir": staging, "postgres_workspace": staging_store})
    new_name = await _rebuild(new_settings, embedder, items, progress, len(records))
    await _swap_stores(target, store, staging_store)
    await drop_workspace(target, manifest.workspace)
    _swap_in(staging, data_dir, progress)
    return ReindexReport(
        data_dir=str(data_dir),
        old_embedder=manifest.embedder,
        new_embedder=new_name,
        documents=len(items),
        seconds=round(time.perf_counter() - t0, 1),
    )


async def _swap_stores(target: PgTarget, store: str, staging_store: str) -> None:
    """The staging store takes the store's name, in one transaction."""
    from cortex.storage.postgres import connect, rename_store

    conn = await connect(target)
    try:
        async with conn.transaction():
            await rename_store(conn, old=store, new=staging_store)
    finally:
        await conn.close()
