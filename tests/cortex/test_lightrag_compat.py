"""The contract with LightRAG's internals: each one cortex/lightrag_compat.py relies on exists with its shape.

A LightRAG upgrade that renames or reshapes one fails here, with a message that names it and the installed
version, before it breaks CORTEX somewhere less obvious. The last two tests keep the list complete: every
private name the compat module uses is on it, and no other module of cortex/ or synapse/ uses one.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import re
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cortex import Cortex
from cortex import lightrag_compat as compat
from tests.conftest import REPO

VERSION = compat.lightrag_version()
SS = "lightrag.kg.shared_storage"
DOC_STATUS = "lightrag.kg.json_doc_status_impl:JsonDocStatusStorage"
PG_DB = "lightrag.kg.postgres_impl:PostgreSQLDB"

Shape = Callable[[Any], str | None]  # None: as expected; else what is wrong


def broken(internal: str, problem: str, why: str) -> str:
    return (
        f"LightRAG {VERSION}: {internal} {problem}. CORTEX relies on it for {why}; "
        "adapt cortex/lightrag_compat.py (and this contract) to the new LightRAG, or pin the old one"
    )


# ---- shapes -----------------------------------------------------------------------------------------


def anything(_: Any) -> str | None:
    return None


def none_or(kind: type | tuple[type, ...], label: str) -> Shape:
    return lambda value: None if value is None or isinstance(value, kind) else f"is {value!r}, not None or {label}"


def instance_of(kind: type | tuple[type, ...], label: str) -> Shape:
    return lambda value: None if isinstance(value, kind) else f"is {type(value).__name__}, not {label}"


def with_params(*names: str, coroutine: bool = False) -> Shape:
    """A function (a coroutine function if asked) that takes at least these parameters, by these names."""

    def check(value: Any) -> str | None:
        if not callable(value):
            return f"is {type(value).__name__}, not a function"
        if coroutine and not inspect.iscoroutinefunction(value):
            return "is no longer a coroutine function"
        params = list(inspect.signature(value).parameters)
        missing = [n for n in names if n not in params]
        return f"has parameters {params}, without {missing}" if missing else None

    return check


def lock_like(value: Any) -> str | None:
    return None if hasattr(value, "__enter__") and hasattr(value, "__exit__") else f"is {value!r}, not a lock"


def storage_kinds(value: Any) -> str | None:
    kinds = ("KV_STORAGE", "VECTOR_STORAGE", "GRAPH_STORAGE", "DOC_STATUS_STORAGE")
    lists = [value.get(k, {}).get("implementations") for k in kinds] if isinstance(value, Mapping) else [None]
    listed = all(isinstance(v, list) for v in lists)
    if not listed:
        return f"no longer maps each of {kinds} to a dict with an 'implementations' list"
    return None


def manager_class(value: Any) -> str | None:
    if not inspect.isclass(value):
        return f"is {value!r}, not a class"
    return with_params("self", "initializer", "initargs")(value.start)


def client_slots(value: Any) -> str | None:
    keys = {"db", "ref_count", "vector_signature"}
    return None if isinstance(value, dict) and keys <= set(value) else f"is {value!r}, not a dict with keys {keys}"


# ---- the contract -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Internal:
    owner: str  # "module" or "module:Class"
    name: str
    shape: Shape
    why: str

    @property
    def label(self) -> str:
        return f"{self.owner.replace(':', '.')}.{self.name}"

    def value(self) -> Any:
        module, _, cls = self.owner.partition(":")
        owner: Any = importlib.import_module(module)
        if cls:
            owner = getattr(owner, cls)
        if self.owner == PG_DB:  # pg_calls.install() may have put CORTEX's in its place
            return compat.lightrag_pg_call(self.name)
        return getattr(owner, self.name)


FORGET = "forgetting a closed store's workspace (workspace.release)"
STATIC = [
    Internal(SS, "_is_multiprocess", none_or(bool, "a bool"), "telling a worker of a multi-process server"),
    Internal(SS, "_manager", anything, "stopping a manager process that died with the master (workers.py)"),
    Internal(SS, "_LightRAGManager", manager_class, "making the manager process watch the master (workers.py)"),
    Internal(SS, "initialize_share_data", with_params("workers"), "sharing LightRAG's state with worker processes"),
    Internal(SS, "finalize_share_data", with_params(), "stopping the manager process at exit"),
    Internal(SS, "get_namespace_data", with_params("namespace", "workspace", coroutine=True), "the pipeline status"),
    Internal(SS, "get_namespace_lock", with_params("namespace", "workspace"), "the pipeline status's lock"),
    *[Internal(SS, name, none_or(Mapping, "a mapping"), FORGET) for name in compat.LOCAL_REGISTRIES],
    *[Internal(SS, name, none_or(Mapping, "a mapping"), FORGET) for name in compat.SHARED_REGISTRIES],
    Internal("lightrag.kg", "STORAGES", instance_of(dict, "a dict"), "registering CORTEX's storages"),
    Internal("lightrag.kg", "STORAGE_IMPLEMENTATIONS", storage_kinds, "registering CORTEX's storages"),
    Internal("lightrag.kg", "STORAGE_ENV_REQUIREMENTS", instance_of(dict, "a dict"), "registering CORTEX's storages"),
    Internal("lightrag.utils", "_TOKENIZER_EXECUTOR", none_or(Executor, "an Executor"), "in-place token counting"),
    Internal("lightrag.utils", "_TOKENIZER_EXECUTOR_GUARD", lock_like, "in-place token counting"),
    Internal("lightrag.utils", "get_tokenizer_executor", with_params(), "in-place token counting"),
    Internal("lightrag:LightRAG", "_build_global_config", with_params("self"), "the configuration snapshot (rag.py)"),
    Internal("lightrag:LightRAG", "_ensure_addon_params_cache", with_params("self"), "the configuration snapshot"),
    Internal(DOC_STATUS, "_is_duplicate_row", with_params("row"), "indexed duplicate checks (doc_status_index.py)"),
    Internal(DOC_STATUS, "_row_points_at_as_duplicate", with_params("row", "doc_id"), "indexed duplicate checks"),
    Internal(DOC_STATUS, "_row_sort_key", with_params("doc_id", "row"), "indexed duplicate checks"),
    Internal(DOC_STATUS, "_scheduling_record_from_raw", with_params("doc_id", "raw"), "indexed source look-ups"),
    Internal(
        "lightrag.kg.networkx_impl:NetworkXStorage",
        "_get_graph",
        with_params("self", coroutine=True),
        "batch graph reads (coalesced.py)",
    ),
    Internal(
        PG_DB,
        "_run_with_retry",
        with_params("self", "operation", "with_age", "graph_name", "timing_label", coroutine=True),
        "bounded database calls (pg_calls.py replaces it with a function of the same signature)",
    ),
    Internal(PG_DB, "_ensure_pool", with_params("self", coroutine=True), "bounded database calls (pg_calls.py)"),
    Internal(PG_DB, "initdb", with_params("self", coroutine=True), "bounded database calls (pg_calls.py)"),
    Internal("lightrag.kg.postgres_impl:ClientManager", "_instances", client_slots, "dropping a stuck shared client"),
    Internal("lightrag.constants", "DEFAULT_QUERY_PRIORITY", instance_of(int, "an int"), "scoped chunk search"),
]
#: Names of LightRAG's objects that only exist on an instance; checked on a live store below.
ON_INSTANCES = {
    "_data",
    "_storage_lock",
    "_file_name",
    "_pool_reconnect_lock",
    "_transient_exceptions",
    "_process",
    "_priority",  # a keyword of the embedding function's call
}
#: CORTEX's own private names that the compat module reads (CortexVectorStorage's rows, its config snapshot).
OWN = {"_meta", "_ids", "_cortex_global_config", "_cortex_wrapped"}


@pytest.mark.parametrize("internal", STATIC, ids=lambda i: i.label)
def test_each_internal_has_its_shape(internal: Internal) -> None:
    try:
        value = internal.value()
    except (ImportError, AttributeError) as exc:
        pytest.fail(broken(internal.label, f"is gone ({exc})", internal.why))
    problem = internal.shape(value)
    assert problem is None, broken(internal.label, problem or "", internal.why)


def test_the_doc_status_predicates_answer_as_before() -> None:
    from lightrag.kg.json_doc_status_impl import JsonDocStatusStorage

    dup = {"metadata": {"is_duplicate": True, "original_doc_id": "doc-a"}, "created_at": "2025"}
    why = "indexed duplicate checks, which must answer as LightRAG's scan"
    assert compat.is_duplicate_row(JsonDocStatusStorage, dup), broken(f"{DOC_STATUS}._is_duplicate_row", "changed", why)
    assert compat.points_at_as_duplicate(JsonDocStatusStorage, dup, "doc-a"), broken(
        f"{DOC_STATUS}._row_points_at_as_duplicate", "changed", why
    )
    key = compat.row_sort_key(JsonDocStatusStorage, "doc-b", {"created_at": "2025"})
    assert key == ("2025", "doc-b"), broken(f"{DOC_STATUS}._row_sort_key", f"answers {key!r}", why)
    record = compat.scheduling_record(JsonDocStatusStorage, "doc-b", {"status": "pending", "file_path": "doc-b"})
    assert record.id == "doc-b", broken(f"{DOC_STATUS}._scheduling_record_from_raw", f"answers {record!r}", why)


@pytest.mark.asyncio
async def test_a_live_store_has_the_instance_internals(cortex: Cortex) -> None:
    rag = cortex.rag
    for name, base in (("text_chunks", "JsonKVStorage"), ("doc_status", "JsonDocStatusStorage")):
        storage = getattr(rag, name)
        label = f"lightrag.kg's {base} ({name})"
        assert isinstance(compat.json_rows(storage), Mapping), broken(f"{label}._data", "is no mapping", "reading rows")
        lock = compat.storage_lock(storage)
        assert hasattr(lock, "__aenter__"), broken(f"{label}._storage_lock", f"is {lock!r}", "reading rows")
        path = compat.store_file(storage)
        assert path.endswith(".json") and Path(path).is_relative_to(cortex.data_dir), broken(
            f"{label}._file_name", f"is {path!r}", "the journal beside the JSON file (journal.py)"
        )
    graph = await compat.networkx_graph(rag.chunk_entity_relation_graph)
    assert graph.number_of_nodes() > 0, broken("NetworkXStorage._get_graph", "gave an empty graph", "batch reads")
    config = rag._build_global_config()
    assert config["working_dir"] == rag.working_dir, broken("LightRAG._build_global_config", "changed", "the snapshot")
    assert await compat.pipeline_busy(rag) is False


@pytest.mark.asyncio
async def test_a_live_store_searches_chunks_through_the_wrapped_query(cortex: Cortex) -> None:
    from cortex.models import QueryRequest

    rag = cortex.rag
    vector = await compat.embed_query(rag, "hollow beams")
    why = "the chunk search of a query scoped to collections (scope.py)"
    assert len(vector) == cortex.embedder.dim, broken("chunks_vdb.embedding_func(_priority=)", "changed", why)
    calls: list[dict[str, Any]] = []

    def recording(inner: compat.VectorQuery) -> compat.VectorQuery:
        async def query(query: str, top_k: int, query_embedding: Any = None) -> list[dict[str, Any]]:
            calls.append({"top_k": top_k, "embedded": query_embedding is not None})
            return await inner(query, top_k=top_k, query_embedding=query_embedding)

        return query

    original = rag.chunks_vdb.query
    rag.chunks_vdb._cortex_wrapped = False  # the store wrapped it once at start (scope.py); once more on top
    try:
        compat.wrap_chunk_search(rag, recording)
        await cortex.add_document("beams.md", b"Hollow beams keep their stiffness and weigh less.")
        await cortex.wait_idle(60)
        await cortex.query(QueryRequest(query="hollow beams", mode="naive", top_k=3))
    finally:
        rag.chunks_vdb.query = original
        rag.chunks_vdb._cortex_wrapped = True
    assert calls, broken("LightRAG's naive query", "no longer calls chunks_vdb.query", why)


@pytest.mark.asyncio
async def test_a_live_store_keys_the_shared_registries_by_workspace(cortex: Cortex) -> None:
    manifest = cortex.registry.manifest()
    assert manifest is not None
    workspace = manifest.workspace
    ss = importlib.import_module(SS)
    names = [*compat.LOCAL_REGISTRIES, *compat.SHARED_REGISTRIES]
    keys = [k for n in names for k in (getattr(ss, n, None) or {}) if str(k).startswith(f"{workspace}:")]
    assert keys, broken(f"{SS} registries {names}", "hold no 'workspace:namespace' key of an open store", FORGET)


def test_the_postgres_client_has_its_instance_internals() -> None:
    from lightrag.kg.postgres_impl import ClientManager, PostgreSQLDB

    db = PostgreSQLDB({**ClientManager.get_config(), "user": "u", "password": "p", "database": "d"})
    lock = compat.pg_reconnect_lock(db)
    assert isinstance(lock, asyncio.Lock), broken(f"{PG_DB}._pool_reconnect_lock", f"is {lock!r}", "pool builds")
    errors = compat.pg_transient_errors(db)
    assert errors and all(issubclass(e, BaseException) for e in errors), broken(
        f"{PG_DB}._transient_exceptions", f"is {errors!r}", "retrying a dropped connection once"
    )


def test_a_started_manager_has_its_process() -> None:
    """release_state asks LightRAG's manager (a multiprocessing SyncManager) whether its process still lives."""
    from multiprocessing.managers import SyncManager

    manager = SyncManager()
    manager.start()
    try:
        process = getattr(manager, "_process", None)
        assert process is not None and process.is_alive(), broken(
            "multiprocessing's BaseManager._process (under LightRAG's manager)", "is missing", "stopping at exit"
        )
    finally:
        manager.shutdown()


# ---- the list is complete ---------------------------------------------------------------------------

PRIVATE = re.compile(r"""\.(_[A-Za-z][A-Za-z0-9_]*)\b|["'](_[A-Za-z][A-Za-z0-9_]*)["']""")


def _private_names(text: str) -> set[str]:
    return {a or b for a, b in PRIVATE.findall(text) if not (a or b).startswith("__")}


def test_every_private_name_the_compat_module_uses_is_in_the_contract() -> None:
    source = Path(compat.__file__).read_text(encoding="utf-8")
    known = {i.name for i in STATIC} | ON_INSTANCES | OWN
    own_module = {name for name in dir(compat) if name.startswith("_")}
    unlisted = sorted(_private_names(source) - known - own_module)
    assert not unlisted, f"cortex/lightrag_compat.py uses {unlisted}: add each to this contract"


def test_no_other_module_uses_lightrags_private_names() -> None:
    lightrag_names = {i.name for i in STATIC} | ON_INSTANCES
    offenders = []
    for root in ("cortex", "synapse"):
        for path in sorted((REPO / root).rglob("*.py")):
            if path.name == "lightrag_compat.py":
                continue
            used = _private_names(path.read_text(encoding="utf-8")) & lightrag_names
            offenders += [f"{path.relative_to(REPO)}: {name}" for name in sorted(used)]
    assert not offenders, f"LightRAG internals outside cortex/lightrag_compat.py: {offenders}"
