"""LightRAG's JSON key-value, document-status and NetworkX graph storages, flushed at most every few seconds.

They rewrite their whole file on every flush, and LightRAG flushes after every document (the status
store after every status change; the graph even when the document added nothing to it), so ingest
grew quadratically. Here a flush request starts a timer (2 s, longer for a store whose write takes
long); the file is written once when it fires, and always on finalize. A crash loses at most that window;
LightRAG then sees the affected documents as unfinished and processes them again.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from lightrag.kg.json_doc_status_impl import JsonDocStatusStorage  # type: ignore[import-untyped]
from lightrag.kg.json_kv_impl import JsonKVStorage  # type: ignore[import-untyped]
from lightrag.kg.networkx_impl import NetworkXStorage  # type: ignore[import-untyped]

from cortex.lightrag_compat import json_rows, networkx_graph, storage_lock
from cortex.storage.doc_status_index import IndexedDuplicates
from cortex.storage.journal import JournaledRows

FLUSH_DELAY_S = 2.0
FLUSH_MAX_DELAY_S = 30.0
FLUSH_SHARE = 0.1


class _CoalescedFlush:
    """Mixin: `index_done_callback` schedules one delayed write instead of writing now.

    The delay grows with what a write costs (FLUSH_SHARE), so a store of tens of thousands of documents,
    whose JSON takes a second or more to write, spends at most a tenth of its time writing it.
    """

    _flush_task: asyncio.Task[None] | None = None
    _last_write_s: float = 0.0

    def flush_delay(self) -> float:
        return min(FLUSH_MAX_DELAY_S, max(FLUSH_DELAY_S, self._last_write_s / FLUSH_SHARE))

    async def index_done_callback(self) -> None:
        task = self._flush_task
        if task is None or task.done():
            self._flush_task = asyncio.get_running_loop().create_task(self._flush_later())

    async def _flush_later(self) -> None:
        await asyncio.sleep(self.flush_delay())
        started = time.perf_counter()
        await self._write()
        self._last_write_s = time.perf_counter() - started

    async def flush_now(self) -> None:
        task, self._flush_task = self._flush_task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._write()

    async def _write(self) -> None:
        journal = getattr(self, "journal_lock", None)
        async with journal if journal is not None else contextlib.nullcontext():
            self._before_full_write()
            try:
                await super().index_done_callback()  # type: ignore[misc]
                self._after_full_write()
            finally:
                self._after_write()

    def _before_full_write(self) -> None:
        """Hook for the journal: set aside what the write is about to cover."""

    def _after_full_write(self) -> None:
        """Hook for the journal: what was set aside is covered now."""

    def _after_write(self) -> None:
        """Hook for mixins that cache what the written rows say (LightRAG may reload them from the file)."""

    async def finalize(self) -> Any:
        await self.flush_now()
        return await super().finalize()  # type: ignore[misc]


def _json_copy(value: Any) -> Any:
    """A detached copy of JSON-shaped data (dicts, lists, scalars): what deepcopy gives, several times faster."""
    if isinstance(value, dict):
        return {k: _json_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_copy(v) for v in value]
    return value


class CortexKVStorage(JournaledRows, _CoalescedFlush, JsonKVStorage):  # type: ignore[misc]
    """JsonKVStorage with coalesced flushes (same files, so either can open the other's store).

    Reads return detached copies, as LightRAG's do (callers mutate nested lists in place), but made by a
    JSON-shaped copy instead of `copy.deepcopy`, which was a tenth of a hybrid query's time.
    """

    def _detached(self, key: str, row: Any) -> dict[str, Any] | None:
        if not row:
            return None
        out: dict[str, Any] = _json_copy(row)
        out.setdefault("create_time", 0)
        out.setdefault("update_time", 0)
        out["_id"] = key
        return out

    async def get_by_id(self, id: str) -> dict[str, Any] | None:
        async with storage_lock(self):
            return self._detached(id, json_rows(self).get(id))

    async def get_by_ids(self, ids: list[str]) -> list[dict[str, Any] | None]:
        async with storage_lock(self):
            rows = json_rows(self)
            return [self._detached(key, rows.get(key)) for key in ids]


class CortexDocStatusStorage(IndexedDuplicates, JournaledRows, _CoalescedFlush, JsonDocStatusStorage):  # type: ignore[misc]
    """JsonDocStatusStorage with coalesced flushes (same files) and indexed duplicate checks.

    Reads return detached copies made like CortexKVStorage's: the document list reads the status of
    every queued document each time it is asked.
    """

    def _journal_replayed(self) -> None:
        self._index_stale = True

    async def get_by_id(self, id: str) -> dict[str, Any] | None:
        return (await self.get_by_ids([id]))[0]

    async def get_by_ids(self, ids: list[str]) -> list[dict[str, Any] | None]:
        self._require_lock()
        async with storage_lock(self):
            data = json_rows(self)
            rows = [data.get(key) for key in ids]
            out: list[dict[str, Any] | None] = [_json_copy(row) if row else None for row in rows]
        return out


class CortexGraphStorage(_CoalescedFlush, NetworkXStorage):  # type: ignore[misc]
    """NetworkXStorage with coalesced flushes (same GraphML file) and real batch reads.

    LightRAG's local mode reads every edge of the entities it found (each TRIZ parameter has ~35 matrix
    edges); the inherited batch methods take the storage lock once per item. These take it once.

    A checkpoint writes the graph only when it changed: LightRAG marks it for writing after every
    document, also when (chunk-only) the document added nothing, and the TRIZ graph's GraphML alone took
    40 ms to write.
    """

    _graph_changed: bool = False

    async def journal_now(self) -> None:
        if self._graph_changed:
            self._graph_changed = False
            await self.flush_now()

    async def upsert_node(self, node_id: str, node_data: dict[str, str]) -> None:
        self._graph_changed = True
        await super().upsert_node(node_id, node_data)

    async def upsert_edge(self, source_node_id: str, target_node_id: str, edge_data: dict[str, str]) -> None:
        self._graph_changed = True
        await super().upsert_edge(source_node_id, target_node_id, edge_data)

    async def upsert_nodes_batch(self, nodes: list[tuple[str, dict[str, str]]]) -> None:
        self._graph_changed = True
        await super().upsert_nodes_batch(nodes)

    async def upsert_edges_batch(self, edges: list[Any]) -> None:
        self._graph_changed = True
        await super().upsert_edges_batch(edges)

    async def delete_node(self, node_id: str) -> None:
        self._graph_changed = True
        await super().delete_node(node_id)

    async def remove_nodes(self, nodes: list[str]) -> None:
        self._graph_changed = True
        await super().remove_nodes(nodes)

    async def remove_edges(self, edges: list[tuple[str, str]]) -> None:
        self._graph_changed = True
        await super().remove_edges(edges)

    async def get_nodes_batch(self, node_ids: list[str]) -> dict[str, dict[str, Any]]:
        graph = await networkx_graph(self)
        return {n: dict(graph.nodes[n]) for n in node_ids if graph.has_node(n)}

    @staticmethod
    def _degrees(graph: Any, nodes: set[str]) -> dict[str, int]:
        # One degree per distinct node: an entity's ~35 matrix edges all share it, and networkx's
        # DegreeView costs microseconds per call.
        adj = graph.adj
        return {n: (len(adj[n]) + (1 if n in adj[n] else 0)) if n in adj else 0 for n in nodes}

    async def node_degrees_batch(self, node_ids: list[str]) -> dict[str, int]:
        graph = await networkx_graph(self)
        return self._degrees(graph, set(node_ids))

    async def edge_degrees_batch(self, edge_pairs: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
        graph = await networkx_graph(self)
        degree = self._degrees(graph, {n for pair in edge_pairs for n in pair})
        return {(a, b): degree[a] + degree[b] for a, b in edge_pairs}

    async def get_edges_batch(self, pairs: list[dict[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        graph = await networkx_graph(self)
        adj = graph.adj
        out: dict[tuple[str, str], dict[str, Any]] = {}
        for pair in pairs:
            src, tgt = pair["src"], pair["tgt"]
            edge = adj[src].get(tgt) if src in adj else None
            if edge is not None:
                out[(src, tgt)] = dict(edge)
        return out

    async def get_nodes_edges_batch(self, node_ids: list[str]) -> dict[str, list[tuple[str, str]]]:
        graph = await networkx_graph(self)
        return {n: (list(graph.edges(n)) if graph.has_node(n) else []) for n in node_ids}
