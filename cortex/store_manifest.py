"""A store's manifest: where it lives (the data directory, or the database of a PostgreSQL store) and what
the configuration must match to open it."""

from __future__ import annotations

from pathlib import Path

from cortex.errors import CortexError, EmbedderMismatchError
from cortex.registry import Manifest, Registry
from cortex.storage import postgres
from cortex.storage.postgres import PgTarget
from synapse.config import CortexSettings
from synapse.embeddings import Embedder

REINDEX_HINT = "run `synapse cortex reindex` to rebuild the store with the embedder now configured"


def check_manifest(manifest: Manifest, settings: CortexSettings, embedder: Embedder, data_dir: Path) -> None:
    """Refuse a store built with another embedder or another vector storage."""
    wanted = settings.vector_storage
    if manifest.vector_storage and manifest.vector_storage != wanted:
        raise EmbedderMismatchError(
            f"the CORTEX store in {data_dir} keeps its vectors in {manifest.vector_storage}, "
            f"but CORTEX_VECTOR_STORAGE is {wanted}",
            f"{REINDEX_HINT}, or set CORTEX_VECTOR_STORAGE={manifest.vector_storage}",
        )
    if manifest.embedder != embedder.name or manifest.dim != embedder.dim:
        raise EmbedderMismatchError(
            f"the CORTEX store in {data_dir} was built with embedder {manifest.embedder} "
            f"({manifest.dim}-d), but {embedder.name} ({embedder.dim}-d) is configured",
            f"{REINDEX_HINT}, or set CORTEX_EMBEDDER={manifest.embedder}",
        )


async def load_manifest(
    registry: Registry, target: PgTarget | None, settings: CortexSettings, data_dir: Path, emb: Embedder
) -> Manifest:
    """The store's manifest, created on first use: in the database for a PostgreSQL store (every process
    and machine opening it must agree on the embedder and workspace), else in the data directory."""
    if target is None:
        manifest = registry.manifest()
        return manifest or registry.create_manifest(emb.name, emb.dim, settings.vector_storage)
    store = settings.postgres_workspace
    manifest = await postgres.load_manifest(target, store)
    if manifest is None and registry.count():
        # A file store lives in this data directory: a new, empty database store would hide its documents.
        raise CortexError(
            f"{data_dir} holds a file store with {registry.count()} documents, and {target.display()} "
            f"has no CORTEX store {store!r} yet",
            f"copy it over first: synapse cortex migrate --to {target.display()} (add the password), "
            "or use another CORTEX_DATA_DIR for a new store",
        )
    return manifest or await postgres.create_manifest_once(target, store, emb.name, emb.dim, settings.vector_storage)


async def save_manifest(
    registry: Registry, target: PgTarget | None, settings: CortexSettings, manifest: Manifest
) -> None:
    if target is None:
        registry.save_manifest(manifest)
        return
    await postgres.save_manifest(target, settings.postgres_workspace, manifest)
