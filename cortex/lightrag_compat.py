"""What CORTEX uses of LightRAG beyond its public methods, in one place.

LightRAG has no call that lists the rows of a key-value or vector store, cancels a running pipeline from
outside its own server, forgets a workspace's shared state, or lets a caller replace its tokenizer pool
or its PostgreSQL retry loop; CORTEX's storages extend LightRAG's and read what those keep. Every private
name of lightrag-hku 1.5.x that CORTEX relies on is used here and nowhere else, and
`tests/cortex/test_lightrag_compat.py` checks each one, naming it and the installed version, so that an
upgrade that changes one fails there first.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from typing import Any, TypeVar

#: The LightRAG storages a document leaves rows in, and that are flushed together.
STORAGE_ATTRS = (
    "full_docs",
    "text_chunks",
    "full_entities",
    "full_relations",
    "entity_chunks",
    "relation_chunks",
    "llm_response_cache",
    "entities_vdb",
    "relationships_vdb",
    "chunks_vdb",
    "chunk_entity_relation_graph",
    "doc_status",
)


def storages(rag: Any) -> list[Any]:
    """Every storage of a LightRAG instance, the document status last (it says what the others hold)."""
    return [s for s in (getattr(rag, name, None) for name in STORAGE_ATTRS) if s is not None]


async def rows_for(storage: Any, ids: list[str]) -> list[dict[str, Any] | None]:
    """`storage.get_by_ids(ids)` aligned with `ids`, None where absent.

    LightRAG's PostgreSQL storages answer an empty list, not a list of None, when none of the ids exist.
    """
    if not ids:
        return []
    rows = list(await storage.get_by_ids(ids))
    if len(rows) == len(ids):
        return rows
    if not rows:
        return [None] * len(ids)
    return [await storage.get_by_id(i) for i in ids]


# ---- the JSON storages' rows (CORTEX's storages extend JsonKVStorage and JsonDocStatusStorage) -----------


def json_rows(storage: Any) -> Any:
    """The in-memory rows of a JSON key-value or status storage (a dict, a manager's proxy across processes);
    None for another kind of storage, or one not initialised."""
    return getattr(storage, "_data", None)


def storage_lock(storage: Any) -> Any:
    """The lock a JSON storage holds around its rows (None until initialised)."""
    return storage._storage_lock


def store_file(storage: Any) -> str:
    """The JSON file a JSON storage writes."""
    return str(storage._file_name)


async def networkx_graph(storage: Any) -> Any:
    """A NetworkXStorage's graph, reloaded first if another process wrote it."""
    return await storage._get_graph()


def is_duplicate_row(storage: Any, row: Any) -> bool:
    """JsonDocStatusStorage's test for a duplicate-attempt marker row."""
    return bool(storage._is_duplicate_row(row))


def points_at_as_duplicate(storage: Any, row: Any, doc_id: str | None) -> bool:
    """The doc-status predicate: `row` only records that its content belongs to `doc_id`."""
    return bool(storage._row_points_at_as_duplicate(row, doc_id))


def row_sort_key(storage: Any, doc_id: str, row: dict[str, Any]) -> tuple[str, str]:
    """The order in which the JSON status storage's scans meet rows."""
    key: tuple[str, str] = storage._row_sort_key(doc_id, row)
    return key


def scheduling_record(storage: Any, doc_id: str, row: dict[str, Any]) -> Any:
    """A status row as the scheduling record LightRAG's source resolution answers with."""
    return storage._scheduling_record_from_raw(doc_id, row)


def _owner(row: dict[str, Any]) -> str:
    return str(row.get("full_doc_id") or row.get("file_path") or "")


async def chunk_owners(storage: Any) -> dict[str, str] | None:
    """Chunk id -> document id of every row of the text-chunk store (JSON KV, CORTEX's or PG); None: unknown kind."""
    data = json_rows(storage)
    if isinstance(data, dict):
        async with storage_lock(storage):
            return {key: _owner(row) for key, row in data.items() if isinstance(row, dict)}
    if type(storage).__name__ == "PGKVStorage":
        rows = await storage.db.query(
            "SELECT id, full_doc_id, file_path FROM LIGHTRAG_DOC_CHUNKS WHERE workspace = $1",
            [storage.workspace],
            multirows=True,
        )
        return {str(r["id"]): _owner(r) for r in rows or []}
    return None


async def vector_owners(storage: Any) -> dict[str, str] | None:
    """Vector id -> document id of every row of the chunk vector store (CORTEX's or pgvector); None: unknown kind."""
    meta = getattr(storage, "_meta", None)  # CortexVectorStorage's rows
    if isinstance(meta, dict):
        return {key: _owner(row) for key, row in meta.items()}
    if type(storage).__name__ == "PGVectorStorage":
        rows = await storage.db.query(
            f"SELECT id, full_doc_id, file_path FROM {storage.table_name} WHERE workspace = $1",
            [storage.workspace],
            multirows=True,
        )
        return {str(r["id"]): _owner(r) for r in rows or []}
    return None


def vector_ids(storage: Any) -> list[str] | None:
    """The ids of every vector of CORTEX's own vector storage, in row order; None for another storage."""
    ids = getattr(storage, "_ids", None)
    return list(ids) if isinstance(ids, list) else None


# ---- the pipeline's shared status ------------------------------------------------------------------------


async def _pipeline_status(rag: Any) -> tuple[Any, Any]:
    from lightrag.kg.shared_storage import get_namespace_data, get_namespace_lock  # type: ignore[import-untyped]

    status = await get_namespace_data("pipeline_status", workspace=rag.workspace)
    return status, get_namespace_lock("pipeline_status", workspace=rag.workspace)


async def pipeline_busy(rag: Any) -> bool:
    status, lock = await _pipeline_status(rag)
    async with lock:
        return bool(status.get("busy", False))


async def request_cancel(rag: Any) -> bool:
    """Ask a running pipeline to stop (its documents end FAILED, "User cancelled"); False when none runs."""
    status, lock = await _pipeline_status(rag)
    async with lock:
        if not status.get("busy", False):
            return False
        status["cancellation_requested"] = True
        return True


def is_cancellation(error: str | None) -> bool:
    """Whether a document's error is LightRAG's mark of a cancelled pipeline rather than a real failure."""
    text = (error or "").lower()
    return text.startswith(("user cancelled", "cancelled by"))


# ---- shared storage: per-workspace globals, and the manager process of a multi-process server ----------

#: Registries keyed "workspace:namespace" that only this process uses.
LOCAL_REGISTRIES = ("_namespace_data_cache", "_pipeline_ingress_local", "_scan_job_store_local")
#: Registries that live in the manager process once several workers share them.
SHARED_REGISTRIES = ("_shared_dicts", "_init_flags", "_update_flags")


def _shared_storage() -> Any:
    from lightrag.kg import shared_storage  # type: ignore[import-untyped]

    return shared_storage


def is_multiprocess() -> bool:
    """True in a worker of a server started with several processes (LightRAG's shared data is multi-process)."""
    return bool(getattr(_shared_storage(), "_is_multiprocess", False))


def forget_workspace(workspace: str) -> None:
    """Drop a workspace's shared in-memory data so that a later instance (on another loop) loads from disk."""
    ss = _shared_storage()
    prefix = f"{workspace}:"
    # With several workers the shared registries live in LightRAG's manager process and belong to every
    # worker: one worker stopping (a restart, a recycle) must not wipe the pipeline state of the others.
    shared = () if getattr(ss, "_is_multiprocess", False) else SHARED_REGISTRIES
    for name in (*shared, *LOCAL_REGISTRIES):
        registry = getattr(ss, name, None)
        if registry is None:
            continue
        for key in [k for k in list(registry.keys()) if isinstance(k, str) and k.startswith(prefix)]:
            registry.pop(key, None)


def share_state(workers: int, watcher: Callable[..., object], watcher_args: tuple[Any, ...]) -> None:
    """`initialize_share_data(workers)`, its manager process started with `watcher(*watcher_args)`.

    LightRAG starts that manager without an initializer; CORTEX gives it one that watches the master.
    """
    ss = _shared_storage()
    manager_class = ss._LightRAGManager
    plain_start: Callable[..., Any] = manager_class.start

    def start_watched(self: Any, initializer: Any = None, initargs: tuple[Any, ...] = ()) -> Any:
        if initializer is None:
            initializer, initargs = watcher, watcher_args
        return plain_start(self, initializer, initargs)

    manager_class.start = start_watched
    try:
        ss.initialize_share_data(workers)
    finally:
        manager_class.start = plain_start


def release_state() -> None:
    """`finalize_share_data()`, also when the manager process is already gone."""
    ss = _shared_storage()
    manager = getattr(ss, "_manager", None)
    process = getattr(manager, "_process", None)
    if process is not None and not process.is_alive():
        # Ctrl-C reaches the whole process group: the manager died with it and has nothing to shut down.
        ss._manager = None
    ss.finalize_share_data()


# ---- hooks: storage registry, tokenizer pool, configuration snapshot -----------------------------------


def register_storage(name: str, kind: str, module: str) -> None:
    """Make LightRAG accept a storage class `name` of `kind` ("KV_STORAGE"...), imported from `module`."""
    from lightrag import kg  # type: ignore[import-untyped]

    implementations = kg.STORAGE_IMPLEMENTATIONS[kind]["implementations"]
    if name not in implementations:
        implementations.append(name)
    kg.STORAGES[name] = module  # an absolute module path; LightRAG imports it on demand
    kg.STORAGE_ENV_REQUIREMENTS.setdefault(name, [])


_Pool = TypeVar("_Pool", bound=Executor)
_TOKENIZER_HOOKS = ("_TOKENIZER_EXECUTOR", "_TOKENIZER_EXECUTOR_GUARD", "get_tokenizer_executor")


def has_tokenizer_executor() -> bool:
    """Whether this LightRAG counts tokens in a replaceable executor (1.5 does)."""
    import lightrag.utils as lightrag_utils  # type: ignore[import-untyped]

    return all(hasattr(lightrag_utils, name) for name in _TOKENIZER_HOOKS)


def swap_tokenizer_executor(make: Callable[[], _Pool]) -> tuple[_Pool, Executor | None]:
    """Make LightRAG count tokens in `make()`; returns it and the executor it replaces (None if none yet)."""
    import lightrag.utils as lightrag_utils

    with lightrag_utils._TOKENIZER_EXECUTOR_GUARD:
        previous: Executor | None = lightrag_utils._TOKENIZER_EXECUTOR
        executor = make()
        lightrag_utils._TOKENIZER_EXECUTOR = executor
    return executor, previous


_SNAPSHOT = "_cortex_global_config"
_RAG = TypeVar("_RAG", bound=type)


def snapshot_global_config(cls: _RAG) -> _RAG:
    """Class decorator for a LightRAG subclass: `_build_global_config` computed once, until a field changes."""
    owner: type[Any] = cls

    def build_global_config(self: Any) -> dict[str, Any]:
        self._ensure_addon_params_cache()
        snapshot: dict[str, Any] | None = self.__dict__.get(_SNAPSHOT)
        if snapshot is None:
            snapshot = super(owner, self)._build_global_config()
            object.__setattr__(self, _SNAPSHOT, snapshot)
        return dict(snapshot)

    def set_attribute(self: Any, name: str, value: Any) -> None:
        # Any field that changes (LightRAG sets some after start, e.g. its LLM roles) may change the mapping.
        self.__dict__.pop(_SNAPSHOT, None)
        super(owner, self).__setattr__(name, value)

    cls._build_global_config = build_global_config  # type: ignore[attr-defined]
    cls.__setattr__ = set_attribute  # type: ignore[assignment]
    return cls


# ---- PostgreSQL: the shared client and its call path -----------------------------------------------------

_PG_HOOKS = ("_run_with_retry", "_ensure_pool", "initdb")


def shared_pg_client() -> Any | None:
    """The process-wide PostgreSQLDB LightRAG's storages share, if one is open."""
    from lightrag.kg.postgres_impl import ClientManager  # type: ignore[import-untyped]

    return ClientManager._instances.get("db")


def forget_pg_client(db: Any) -> None:
    """Make LightRAG open a new shared client next time, if `db` is the one it holds."""
    from lightrag.kg.postgres_impl import ClientManager

    if ClientManager._instances.get("db") is db:
        ClientManager._instances.update(db=None, ref_count=0, vector_signature=None)


_pg_originals: dict[str, Any] = {}


def replace_pg_calls(run_with_retry: Callable[..., Awaitable[Any]], ensure_pool: Callable[..., Awaitable[None]]) -> str:
    """Put these in place of PostgreSQLDB's `_run_with_retry` and `_ensure_pool`; the hooks missing, if any."""
    from lightrag.kg.postgres_impl import PostgreSQLDB

    missing = [name for name in _PG_HOOKS if not hasattr(PostgreSQLDB, name)]
    if not missing:
        for name in ("_run_with_retry", "_ensure_pool"):
            _pg_originals.setdefault(name, getattr(PostgreSQLDB, name))
        PostgreSQLDB._run_with_retry = run_with_retry
        PostgreSQLDB._ensure_pool = ensure_pool
    return ", ".join(missing)


def lightrag_pg_call(name: str) -> Any:
    """PostgreSQLDB's own `name` (`_run_with_retry`, `_ensure_pool`), also once replace_pg_calls replaced it."""
    from lightrag.kg.postgres_impl import PostgreSQLDB

    return _pg_originals.get(name) or getattr(PostgreSQLDB, name, None)


async def ensure_pg_pool(db: Any) -> None:
    await db._ensure_pool()


def pg_reconnect_lock(db: Any) -> Any:
    """The lock PostgreSQLDB holds while it builds a new pool."""
    return db._pool_reconnect_lock


def pg_transient_errors(db: Any) -> tuple[type[BaseException], ...]:
    """The exceptions PostgreSQLDB retries: a dropped connection, a server restarting."""
    errors: tuple[type[BaseException], ...] = tuple(db._transient_exceptions)
    return errors


VectorQuery = Callable[..., Awaitable[list[dict[str, Any]]]]


def wrap_chunk_search(rag: Any, wrap: Callable[[VectorQuery], VectorQuery]) -> None:
    """Replace `rag`'s chunk vector search by `wrap(original)`, once: LightRAG has no hook to filter the
    chunks a query may see (collections, cortex/scope.py), and calls `chunks_vdb.query(query, top_k=,
    query_embedding=)` for them."""
    vdb = rag.chunks_vdb
    if getattr(vdb, "_cortex_wrapped", False):
        return
    vdb.query = wrap(vdb.query)
    vdb._cortex_wrapped = True


async def embed_query(rag: Any, text: str) -> list[float]:
    """`text` embedded as LightRAG embeds a query for the chunk search (its query priority in the queue)."""
    from lightrag.constants import DEFAULT_QUERY_PRIORITY  # type: ignore[import-untyped]

    vectors = await rag.chunks_vdb.embedding_func([text], context="query", _priority=DEFAULT_QUERY_PRIORITY)
    return [float(x) for x in vectors[0]]


def lightrag_version() -> str:
    """The installed lightrag-hku, for messages about what an upgrade changed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lightrag-hku")
    except PackageNotFoundError:
        return "unknown"
