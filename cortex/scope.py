"""Knowledge scopes: which user documents a query may see (its collections), and which modes reach documents.

A query with `collections` keeps the TRIZ knowledge (always: it is shared by every profile) and the
documents of those collections; dialogue memory belongs to no collection, so only an unscoped query
(`collections` null) sees it. A chunk names its document (LightRAG's `file_path` is CORTEX's document
id), and the registry knows each document's collection: that link is the one truth on every storage.

Two layers keep other collections out:
1. the chunk vector search runs scoped (over-fetch, then filter: see `_scoped_search`), so `top_k`
   stays filled with chunks in scope;
2. the retrieval data is narrowed (`narrowed`): chunks reached through the graph, entities and
   relations of documents out of scope are dropped before sources and context are built.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from cortex.knowledge_graph import TRIZ_PREFIX
from cortex.lightrag_compat import VectorQuery, embed_query, wrap_chunk_search
from cortex.models import CortexHealth, QueryMode

#: LightRAG joins the sources of a merged entity or relation with this.
SEP = "<SEP>"
#: The modes that search the graph only (no chunk vector search).
GRAPH_MODES: frozenset[QueryMode] = frozenset({"local", "global", "hybrid"})
#: A scoped search asks for this many times more rows each round ...
OVERFETCH = 4
#: ... and never more than this many in one round.
MAX_FETCH = 16_384


@dataclass(frozen=True)
class Scope:
    """The user documents a query may see (ids); TRIZ knowledge is always in scope."""

    documents: frozenset[str]

    def admits(self, key: str) -> bool:
        """Whether a chunk's or graph item's source (`file_path`, one part) is in scope."""
        return key.startswith(TRIZ_PREFIX) or key in self.documents


_ACTIVE: ContextVar[Scope | None] = ContextVar("cortex_scope", default=None)


@contextmanager
def active(scope: Scope | None) -> Iterator[None]:
    """The scope of the searches made inside (LightRAG's tasks inherit it: a context variable)."""
    token = _ACTIVE.set(scope)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def install(rag: Any) -> None:
    """Make `rag`'s chunk vector search honour the active scope (without one it is unchanged)."""

    def scoped(inner: VectorQuery) -> VectorQuery:
        async def query(query: str, top_k: int, query_embedding: Any = None) -> list[dict[str, Any]]:
            scope = _ACTIVE.get()
            if scope is None:
                return await inner(query, top_k=top_k, query_embedding=query_embedding)
            if query_embedding is None:  # embedded once here, not once per round
                query_embedding = await embed_query(rag, query)
            return await _scoped_search(inner, scope, query, top_k, query_embedding)

        return query

    wrap_chunk_search(rag, scoped)


async def _scoped_search(
    inner: VectorQuery, scope: Scope, query: str, top_k: int, embedding: Any
) -> list[dict[str, Any]]:
    """The best `top_k` chunks in scope.

    Over-fetch then filter: the vector stores CORTEX runs on (its numpy rows, pgvector, any LightRAG
    storage) share no metadata filter, and the collection is the registry's, not the store's. Asking for
    more rows until `top_k` are in scope (or the store has no more above its similarity threshold)
    keeps `top_k` filled; `MAX_FETCH` bounds a round when the scope holds a small part of a large store.
    """
    fetch = min(top_k * OVERFETCH, MAX_FETCH)
    while True:
        rows = await inner(query, top_k=fetch, query_embedding=embedding)
        kept = [row for row in rows if scope.admits(str(row.get("file_path", "")))]
        if len(kept) >= top_k or len(rows) < fetch or fetch >= MAX_FETCH:
            return kept[:top_k]
        fetch = min(fetch * OVERFETCH, MAX_FETCH)


def narrowed(data: dict[str, Any], scope: Scope) -> dict[str, Any]:
    """LightRAG's retrieval data without anything of the documents out of scope."""
    out = dict(data)
    out["chunks"] = [c for c in data.get("chunks") or [] if scope.admits(str(c.get("file_path", "")))]
    for key in ("entities", "relationships"):
        out[key] = [kept for item in data.get(key) or [] if (kept := _narrow(item, scope)) is not None]
    out["references"] = [r for r in data.get("references") or [] if scope.admits(str(r.get("file_path", "")))]
    return out


def _narrow(item: dict[str, Any], scope: Scope) -> dict[str, Any] | None:
    paths = str(item.get("file_path", "")).split(SEP)
    kept = [p for p in paths if scope.admits(p)]
    if not kept:
        return None
    if len(kept) == len(paths):
        return item
    # Merged from several documents (only with an extraction LLM): its description may tell of one out of
    # scope, so it goes; the item stays under a source in scope (a TRIZ item then shows the knowledge's text).
    return {**item, "file_path": SEP.join(kept), "description": ""}


def modes_reaching_documents(health: CortexHealth) -> frozenset[QueryMode]:
    """The query modes that can return the user's documents on the CORTEX that gave `health`.

    Without an entity-extraction LLM documents are only chunked and embedded: the graph holds the
    TRIZ knowledge alone, so local, global and hybrid never return a document (a profile whose RAG
    mode is one of them retrieves no documents there).
    """
    reach: set[QueryMode] = {"naive", "mix"}
    if health.graph_documents:
        reach |= GRAPH_MODES
    return frozenset(reach)


def graph_only_warning(mode: QueryMode) -> str:
    """What a query in a graph mode is told when it cannot reach the documents."""
    return (
        f"mode {mode!r} searches the TRIZ graph only: no entity-extraction LLM is configured (CORTEX_LLM_MODEL), "
        "so your documents are reachable in 'naive' or 'mix'"
    )


__all__ = ["Scope", "active", "graph_only_warning", "install", "modes_reaching_documents", "narrowed"]
