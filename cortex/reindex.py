"""Rebuild a store's vectors with the embedder now configured (after changing CORTEX_EMBEDDER)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from cortex.documents import ParsedDocument
from cortex.errors import CortexError
from cortex.registry import Registry
from cortex.service import Cortex
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

    progress(f"reading {len(records)} documents embedded with {manifest.embedder}")
    old = Cortex(settings, embedder=_StoredVectorsOnly(manifest.embedder, manifest.dim), build_graph=False)
    async with old:
        rows = await old.rag.full_docs.get_by_ids([r.info.id for r in records])
    texts = {r.info.id: str((row or {}).get("content", "")) for r, row in zip(records, rows, strict=True)}

    staging = data_dir.with_name(data_dir.name + ".reindex")
    shutil.rmtree(staging, ignore_errors=True)
    new_settings = settings.model_copy(update={"data_dir": staging})
    async with Cortex(new_settings, embedder=embedder) as fresh:
        progress(f"embedding the TRIZ graph and {len(records)} documents with {fresh.embedder.name}")
        items = [
            (
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
            )
            for r in reversed(records)  # oldest first, so the list keeps its order
            if texts[r.info.id]
        ]
        await fresh.enqueue_parsed(items)
        await fresh.wait_idle(timeout=24 * 3600)
        new_name = fresh.embedder.name

    retired = data_dir.with_name(data_dir.name + ".old")
    shutil.rmtree(retired, ignore_errors=True)
    data_dir.rename(retired)
    staging.rename(data_dir)
    shutil.rmtree(retired, ignore_errors=True)
    progress("done")
    return ReindexReport(
        data_dir=str(data_dir),
        old_embedder=manifest.embedder,
        new_embedder=new_name,
        documents=len(items),
        seconds=round(time.perf_counter() - t0, 1),
    )
