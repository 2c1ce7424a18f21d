"""`synapse cortex check [--repair]`: CORTEX's document list against LightRAG's stores, and the fixes.

Found: processed documents whose chunks lack their text or their vector, or whose LightRAG status says
otherwise; chunks and vectors that belong to no document; documents LightRAG holds that CORTEX does not
know. Repaired: the first kind is queued to be processed again (from the text CORTEX kept, else
LightRAG's copy), the others are removed.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from cortex.ingest import IngestQueue
from cortex.ingest_status import flush_all, state_of
from cortex.knowledge_graph import TRIZ_PREFIX
from cortex.lightrag_compat import chunk_owners, rows_for, vector_owners
from cortex.models import CheckReport, DocumentInfo, StoreProblem
from cortex.purge import purge_documents
from cortex.registry import Registry

_REPAIRED_BY_REDO = ("missing_chunks", "missing_vectors", "status_mismatch")


async def check_store(rag: Any, registry: Registry) -> CheckReport:
    """Compare the registry with LightRAG's stores; changes nothing."""
    infos = [r.info for r in registry.all()]
    deleting = registry.tombstones()
    chunks = await chunk_owners(rag.text_chunks)
    vectors = await vector_owners(rag.chunks_vdb)
    processed = [i for i in infos if i.status == "processed"]
    problems = await _processed_problems(rag, processed, chunks, vectors)
    known = {i.id for i in infos} | set(deleting)
    problems += _orphans("orphan_chunks", "chunk", chunks, known)
    problems += _orphans("orphan_vectors", "vector", vectors, known)
    problems += await _unknown_documents(rag, known)
    return CheckReport(
        documents=len(infos),
        processed=len(processed),
        unfinished=sum(i.status in ("pending", "processing") for i in infos),
        deleting=len(deleting),
        chunks=None if chunks is None else len(chunks),
        vectors=None if vectors is None else len(vectors),
        problems=problems,
    )


async def _processed_problems(
    rag: Any, processed: list[DocumentInfo], chunks: dict[str, str] | None, vectors: dict[str, str] | None
) -> list[StoreProblem]:
    problems: list[StoreProblem] = []
    rows = await rows_for(rag.doc_status, [i.id for i in processed]) if processed else []
    for info, row in zip(processed, rows, strict=True):
        state = state_of(row) if row else None
        if row is None or state != "processed":
            detail = f"{info.name}: processed here, {state or 'absent'} in LightRAG's document status"
            problems.append(StoreProblem(kind="status_mismatch", document=info.id, detail=detail))
            continue
        listed = [str(c) for c in row.get("chunks_list") or []]
        no_text = await _absent(rag.text_chunks, listed, chunks)
        no_vector = await _absent(rag.chunks_vdb, listed, vectors)
        if not listed or no_text:
            what = f"{len(no_text)} of its {len(listed)} chunks have no text" if listed else "it lists no chunks"
            problems.append(StoreProblem(kind="missing_chunks", document=info.id, detail=f"{info.name}: {what}"))
        if no_vector:
            detail = f"{info.name}: {len(no_vector)} of its {len(listed)} chunks have no vector"
            problems.append(StoreProblem(kind="missing_vectors", document=info.id, detail=detail, rows=no_vector))
    return problems


async def _absent(storage: Any, ids: list[str], listing: dict[str, str] | None) -> list[str]:
    if listing is not None:
        return [i for i in ids if i not in listing]
    found = await rows_for(storage, ids)
    return [i for i, row in zip(ids, found, strict=True) if not row]


def _orphans(kind: str, what: str, owners: dict[str, str] | None, known: set[str]) -> list[StoreProblem]:
    by_owner: dict[str, list[str]] = defaultdict(list)
    for row_id, owner in (owners or {}).items():
        if not owner.startswith(TRIZ_PREFIX) and owner not in known:
            by_owner[owner].append(row_id)
    return [
        StoreProblem(
            kind=kind,  # type: ignore[arg-type]
            document=owner or None,
            detail=f"{len(rows)} {what} rows of {owner or 'no document'}, which CORTEX does not know",
            rows=sorted(rows),
        )
        for owner, rows in sorted(by_owner.items())
    ]


async def _unknown_documents(rag: Any, known: set[str]) -> list[StoreProblem]:
    from lightrag.base import DocStatus  # type: ignore[import-untyped]

    rows = await rag.doc_status.get_docs_by_statuses(list(DocStatus))
    return [
        StoreProblem(kind="unknown_document", document=doc_id, detail=f"LightRAG holds {doc_id}, CORTEX does not")
        for doc_id in sorted(rows)
        if not doc_id.startswith("dup-") and doc_id not in known
    ]


async def repair_store(rag: Any, registry: Registry, report: CheckReport, queue: IngestQueue | None) -> CheckReport:
    """Fix what `report` found: redo the incomplete documents, remove orphans and unknown documents.

    With a running queue the redone documents are processed now; otherwise at the next start, which
    processes every document that is not `processed`.
    """
    redo = sorted({p.document for p in report.problems if p.kind in _REPAIRED_BY_REDO and p.document})
    for doc_id in redo:
        if registry.text(doc_id) is None:
            row = await rag.full_docs.get_by_id(doc_id)
            if row and row.get("content"):
                registry.keep_text(doc_id, str(row["content"]))
    chunk_rows = [r for p in report.problems if p.kind == "orphan_chunks" for r in p.rows]
    vector_rows = [r for p in report.problems if p.kind == "orphan_vectors" for r in p.rows]
    if chunk_rows:
        await rag.text_chunks.delete(chunk_rows)
    if vector_rows:
        await rag.chunks_vdb.delete(vector_rows)
    unknown = [p.document for p in report.problems if p.kind == "unknown_document" and p.document]
    if queue is not None:  # its worker purges when LightRAG's pipeline is idle
        queue.discard(unknown)
        await queue.redo(redo)
    else:
        await purge_documents(rag, [*unknown, *redo])
        registry.requeue(redo)
    await flush_all(rag)
    return report.model_copy(update={"repaired": True, "requeued": redo})
