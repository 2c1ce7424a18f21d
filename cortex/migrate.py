"""Copy a file-based CORTEX store into PostgreSQL without re-embedding, then check what arrived.

Everything LightRAG keeps is copied (migrate_copy.py): documents, chunks, document status, the
entity/relation key-value stores, the graph, and the three vector stores with the vectors they hold.
Afterwards every namespace's rows are counted on both sides and a sample of
vectors is compared; only then is the store's manifest written, so a migration that fails half-way
leaves no store behind (its rows are removed). The document list stays in the data directory, which
the PostgreSQL store keeps using.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr

from cortex.errors import CortexError, EmbedderMismatchError
from cortex.migrate_copy import (
    KV_NAMESPACES,
    VECTOR_NAMESPACES,
    Progress,
    StoredVectors,
    compare_vectors,
    copy_graph,
    copy_kv,
    copy_vectors,
    open_target,
    target_counts,
)
from cortex.registry import Manifest, Registry
from cortex.storage.postgres import (
    PgTarget,
    connect,
    delete_manifest,
    load_manifest,
    save_manifest,
    workspace_rows,
)
from cortex.storage.selection import StoragePlan, plan_storage
from synapse.config import CortexSettings
from synapse.embeddings import Embedder, Vectors

#: Rows per write while copying.
BATCH = 500
#: Vectors compared per vector namespace after the copy.
SAMPLE = 64
MAX_VECTOR_ERROR = 1e-4


class NamespaceCount(BaseModel):
    """Rows of one namespace in the file store and in PostgreSQL."""

    namespace: str
    source: int
    target: int

    @property
    def ok(self) -> bool:
        return self.source == self.target


class MigrationReport(BaseModel):
    """What a migration copied and what the check found."""

    data_dir: str
    target: str
    store: str
    workspace: str
    embedder: str
    documents: int
    counts: list[NamespaceCount]
    vectors_compared: int
    max_vector_error: float
    graph_storage: str
    seconds: float


class _NeverEmbeds(Embedder):
    """Stands in for the store's embedder: a migration reads stored vectors and computes none."""

    def __init__(self, name: str, dim: int) -> None:
        self.name, self.dim = name, dim

    def _encode(self, texts: list[str]) -> Vectors:
        raise CortexError("a migration never embeds", "this is a bug; please report it")


def _no_progress(step: str, done: int, total: int) -> None:
    return None


async def _check_target(target: PgTarget, store: str, manifest: Manifest, force: bool) -> Manifest | None:
    """Refuse a database that already holds this store, unless forced; returns the store to replace."""
    existing = await load_manifest(target, store)
    if existing is None or force:
        return existing
    if existing.embedder != manifest.embedder or existing.dim != manifest.dim:
        raise EmbedderMismatchError(
            f"{target.display()} already holds a CORTEX store {store!r} built with {existing.embedder} "
            f"({existing.dim}-d); this store uses {manifest.embedder} ({manifest.dim}-d)",
            "choose another store name (CORTEX_POSTGRES_WORKSPACE), or pass --force to replace it",
        )
    raise CortexError(
        f"{target.display()} already holds a CORTEX store {store!r} (workspace {existing.workspace})",
        "choose another store name (CORTEX_POSTGRES_WORKSPACE), or pass --force to replace it",
    )


async def drop_workspace(target: PgTarget, workspace: str) -> None:
    """Delete every LightRAG row of `workspace` in the database."""
    conn = await connect(target)
    try:
        for table in await workspace_rows(target, workspace):
            await conn.execute(f'DELETE FROM "{table}" WHERE workspace = $1', workspace)
    finally:
        await conn.close()


@dataclass(frozen=True)
class _Job:
    """One migration: the store it copies, where to, and under which new workspace."""

    settings: CortexSettings  # the file store's
    plan: StoragePlan  # PostgreSQL's
    store: str
    workspace: str
    manifest: Manifest
    progress: Progress

    @property
    def db(self) -> PgTarget:
        assert self.plan.target is not None
        return self.plan.target


async def migrate(
    settings: CortexSettings,
    to_url: str,
    *,
    store: str | None = None,
    force: bool = False,
    progress: Progress = _no_progress,
) -> MigrationReport:
    """Copy the file store in settings.data_dir into the PostgreSQL database at `to_url`, then check it."""
    t0 = time.perf_counter()
    data_dir = Path(settings.data_dir)
    manifest, documents = _read_source(data_dir)
    store = store or settings.postgres_workspace
    target_settings = settings.model_copy(
        update={"storage": "postgres", "postgres_url": SecretStr(to_url), "postgres_workspace": store}
    )
    plan = await plan_storage(target_settings)
    assert plan.target is not None
    replaced = await _check_target(plan.target, store, manifest, force)
    source_settings = settings.model_copy(update={"storage": "file", "graph_url": SecretStr("")})
    job = _Job(source_settings, plan, store, f"cortex_{uuid.uuid4().hex[:12]}", manifest, progress)
    checks, compared, worst = await _copy_checked(job, replaced)
    return MigrationReport(
        data_dir=str(data_dir),
        target=job.db.display(),
        store=store,
        workspace=job.workspace,
        embedder=manifest.embedder,
        documents=documents,
        counts=checks,
        vectors_compared=compared,
        max_vector_error=worst,
        graph_storage=plan.settings.graph_storage,
        seconds=round(time.perf_counter() - t0, 2),
    )


def _read_source(data_dir: Path) -> tuple[Manifest, int]:
    """The file store's manifest and its number of documents."""
    if not (data_dir / "cortex.sqlite3").exists():
        raise CortexError(f"there is no CORTEX store in {data_dir}", "set CORTEX_DATA_DIR to the store to migrate")
    registry = Registry(data_dir / "cortex.sqlite3")
    try:
        manifest, documents = registry.manifest(), registry.count()
    finally:
        registry.close()
    if manifest is None:
        raise CortexError(f"the CORTEX store in {data_dir} has no manifest", "start it once with CORTEX_STORAGE=file")
    return manifest, documents


async def _copy_checked(job: _Job, replaced: Manifest | None) -> tuple[list[NamespaceCount], int, float]:
    """Copy, check, then write the manifest (replacing `replaced`); a failure leaves no rows behind."""
    from cortex.service import Cortex

    manifest = job.manifest
    source = Cortex(job.settings, embedder=_NeverEmbeds(manifest.embedder, manifest.dim), build_graph=False)
    embed = StoredVectors()
    target_rag: Any = None
    copied = False
    try:
        async with source:
            target_rag = await open_target(job.plan.settings, job.workspace, manifest, embed)
            counts, found, compared, worst = await _copy(source.rag, target_rag, embed, job)
        checks = _verify(job.db, counts, found, worst)
        await _commit(job, replaced)
        copied = True
    finally:
        if target_rag is not None:
            if not copied:
                await _drop_all(target_rag)
            await target_rag.finalize_storages()
        if not copied:
            await drop_workspace(job.db, job.workspace)
    return checks, compared, worst


async def _copy(
    src: Any, target_rag: Any, embed: StoredVectors, job: _Job
) -> tuple[dict[str, int], dict[str, int], int, float]:
    """Rows copied per namespace, rows found in PostgreSQL, vectors compared and their largest difference."""
    progress = job.progress
    counts = await copy_kv(src, target_rag, BATCH, progress)
    counts.update(await copy_vectors(src, target_rag, embed, BATCH, progress))
    counts.update(await copy_graph(src, target_rag, BATCH, progress))
    progress("check", 0, 1)
    found = await target_counts(job.db, job.workspace, target_rag)
    compared, worst = await compare_vectors(src, target_rag, SAMPLE)
    progress("check", 1, 1)
    return counts, found, compared, worst


def _verify(db: PgTarget, counts: dict[str, int], found: dict[str, int], worst: float) -> list[NamespaceCount]:
    checks = [NamespaceCount(namespace=n, source=c, target=found.get(n, 0)) for n, c in counts.items()]
    wrong = [c for c in checks if not c.ok]
    if wrong or worst > MAX_VECTOR_ERROR:
        detail = ", ".join(f"{c.namespace} {c.source} -> {c.target}" for c in wrong)
        raise CortexError(
            f"the copy in {db.display()} does not match the file store ({detail or f'vector error {worst:g}'})",
            "nothing was kept; run the migration again, and report it if it fails the same way",
        )
    return checks


async def _commit(job: _Job, replaced: Manifest | None) -> None:
    """Make the copy the store: the replaced one goes, the new manifest names the new workspace."""
    if replaced is not None:
        await drop_workspace(job.db, replaced.workspace)
        await delete_manifest(job.db, job.store)
    manifest = job.manifest
    await save_manifest(
        job.db,
        job.store,
        Manifest(
            workspace=job.workspace,
            embedder=manifest.embedder,
            dim=manifest.dim,
            knowledge_version=manifest.knowledge_version,
            vector_storage=job.plan.settings.vector_storage,
        ),
    )


async def _drop_all(rag: Any) -> None:
    """Empty every target storage of a failed migration (graphs outside PostgreSQL included)."""
    for name in (*KV_NAMESPACES, "doc_status", *VECTOR_NAMESPACES, "chunk_entity_relation_graph"):
        storage = getattr(rag, name, None)
        if storage is not None:
            # Best effort: the SQL clean-up that follows removes what a failing drop leaves.
            with contextlib.suppress(Exception):
                await storage.drop()


__all__ = ["MigrationReport", "NamespaceCount", "drop_workspace", "migrate"]
