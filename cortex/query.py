"""One query: LightRAG's retrieval data (no generation) turned into ranked sources and one context."""

from __future__ import annotations

import time
from typing import Any

from cortex.keywords import Keywords, extract_keywords
from cortex.knowledge_graph import TRIZ_PREFIX
from cortex.models import QueryRequest, QueryResult
from cortex.registry import DocumentLabel, Registry
from cortex.scope import GRAPH_MODES, Scope, active, graph_only_warning, narrowed
from cortex.sources import DocRef, SourceBuilder
from cortex.storage.pg_guard import DbGuard
from synapse.triz import TrizKnowledge
from synapse.triz.text import resolve_lang


class Retrieval:
    """Answers queries against a started store; keeps the full texts of paged documents to place chunks on pages.

    `graph_documents`: whether documents are in the graph (an extraction LLM); if not, the graph modes
    reach the TRIZ knowledge alone and say so in the result's warnings.
    """

    def __init__(self, kb: TrizKnowledge, graph_documents: bool = False) -> None:
        self.kb = kb
        self.graph_documents = graph_documents
        self._texts: dict[str, str] = {}

    def forget(self, doc_id: str) -> None:
        """A deleted document's text is no longer needed."""
        self._texts.pop(doc_id, None)

    async def query(self, rag: Any, registry: Registry, request: QueryRequest, guard: DbGuard) -> QueryResult:
        t0 = time.perf_counter()
        lang = resolve_lang(request.query, request.lang)
        keywords = extract_keywords(request.query, self.kb) if request.mode != "naive" else None
        scope = None if request.collections is None else Scope(registry.documents_in(request.collections))
        with active(scope):  # the chunk vector search sees only the documents in scope (scope.py)
            data = await rag.aquery_data(request.query, _param(request, keywords))
        await guard.check()  # db guard: LightRAG turns some failed calls into empty results
        warnings: list[str] = []
        if data.get("status") != "success":
            warnings.append(str(data.get("message", "retrieval failed")))
        reachable = registry.count() if scope is None else len(scope.documents)
        if request.mode in GRAPH_MODES and not self.graph_documents and reachable:
            warnings.append(graph_only_warning(request.mode))
        retrieved = data.get("data") or {}
        if scope is not None:  # what the graph brought (chunks of entities, merged items) is narrowed here
            retrieved = narrowed(retrieved, scope)
        doc_ids = {str(c.get("file_path", "")) for c in retrieved.get("chunks") or []}
        labels = registry.labels([d for d in doc_ids if d and not d.startswith(TRIZ_PREFIX)])
        pages = await self._page_texts(rag, labels)
        sources, context = SourceBuilder(self.kb, lang).build(
            retrieved,
            docs=lambda key: _doc_ref(labels.get(key), pages.get(key, "")),
            limit=max(request.top_k, 5) * 2,
            pairs=keywords.pairs if keywords else (),
        )
        return QueryResult(
            query=request.query,
            mode_requested=request.mode,
            mode=request.mode,
            lang=lang,
            context=context,
            sources=sources,
            keywords=keywords.all if keywords else [],
            warnings=warnings,
            elapsed_ms=round((time.perf_counter() - t0) * 1000, 2),
        )

    async def _page_texts(self, rag: Any, labels: dict[str, DocumentLabel]) -> dict[str, str]:
        """Full texts of the paged documents (PDFs) among those retrieved, to find a chunk's page."""
        texts: dict[str, str] = {}
        for doc_id, label in labels.items():
            if not label.page_starts:
                continue
            if doc_id not in self._texts:
                row = await rag.full_docs.get_by_id(doc_id)
                self._texts[doc_id] = str((row or {}).get("content", ""))
            texts[doc_id] = self._texts[doc_id]
        return texts


def _param(request: QueryRequest, keywords: Keywords | None) -> Any:
    from lightrag import QueryParam  # type: ignore[import-untyped]

    return QueryParam(
        mode=request.mode,
        top_k=request.top_k,
        chunk_top_k=request.top_k,
        hl_keywords=keywords.high if keywords else [],
        ll_keywords=keywords.low if keywords else [],
        enable_rerank=False,
    )


def _doc_ref(label: DocumentLabel | None, full: str) -> DocRef | None:
    if label is None:
        return None
    starts = label.page_starts

    def page(chunk_text: str) -> int | None:
        """The page holding most of the chunk."""
        if not starts or not full:
            return None
        begin = full.find(chunk_text[:80].strip())
        if begin < 0:
            return None
        end = begin + len(chunk_text)
        bounds = [*starts, len(full)]
        spans = [(min(end, bounds[i + 1]) - max(begin, bounds[i]), i + 1) for i in range(len(starts))]
        return max(spans)[1]

    return DocRef(name=label.name, kind=label.kind, page=page)
