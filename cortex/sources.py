"""Turning LightRAG's retrieval data into CORTEX sources and one assembled context."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cortex.knowledge_graph import TRIZ_PREFIX, matrix_pair_key, matrix_text
from cortex.models import Source, SourceKind
from synapse.lang import Lang
from synapse.triz import Localized, TrizKnowledge

SNIPPET = 320


@dataclass
class DocRef:
    """What a document chunk's source needs from CORTEX's registry."""

    name: str
    kind: SourceKind
    page: Callable[[str], int | None]


@dataclass(slots=True)
class Item:
    """A candidate source; only the ones kept become `Source` models (a query sees about a hundred)."""

    id: str
    kind: SourceKind
    title: str
    description: str  # the snippet's text, shortened only if the item is kept
    score: float
    text: str
    document: str | None = None
    page: int | None = None

    def source(self) -> Source:
        return Source.model_construct(
            id=self.id,
            kind=self.kind,
            title=self.title,
            snippet=_snippet(self.description),
            score=self.score,
            document=self.document,
            page=self.page,
        )


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SNIPPET else text[: SNIPPET - 1].rstrip() + "…"


@dataclass
class SourceBuilder:
    """Turns one query's retrieval data into sources, with TRIZ items named in the query's language."""

    kb: TrizKnowledge
    lang: Lang

    def triz_items(self, key: str, text: str, score: float, expand: bool = False) -> list[Item]:
        """Source(s) for a TRIZ key such as triz:principle:1 or triz:matrix:1-14 (`expand`: with its principles)."""
        kb, lang = self.kb, self.lang
        kind_name, _, ident = key[len(TRIZ_PREFIX) :].partition(":")

        def one(kind: SourceKind, title: str, description: Localized) -> list[Item]:
            return [Item(key, kind, title, description.get(lang), score, text)]

        if kind_name == "principle":
            p = kb.principle(int(ident))
            return one("principle", f"{p.id}. {p.name.get(lang)}", p.description)
        if kind_name == "parameter":
            q = kb.parameter(int(ident))
            return one("parameter", f"{q.id}. {q.name.get(lang)}", q.description)
        if kind_name == "separation":
            s = next(s for s in kb.separation if s.id == ident)
            return one("separation", s.name.get(lang), s.description)
        if kind_name == "matrix":
            return self._matrix_items(key, ident, text, score, expand)
        return []

    def _matrix_items(self, key: str, ident: str, text: str, score: float, expand: bool) -> list[Item]:
        kb, lang = self.kb, self.lang
        lo, hi = (int(x) for x in ident.split("-"))
        a, b = kb.parameter(lo), kb.parameter(hi)
        text = text or matrix_text(kb, lo, hi)  # a relation whose merged text was withheld (scope.py)
        items = [Item(key, "matrix", f"{a.name.get(lang)} × {b.name.get(lang)}", text, score, text)]
        if not expand:
            return items
        # The cell's principles are part of the matrix text; listing them lets callers cite them directly.
        seen: list[int] = []
        for cell in (kb.cell(lo, hi), kb.cell(hi, lo)):
            seen += [n for n in (cell.principles if cell else []) if n not in seen]
        for rank, n in enumerate(seen):
            items += self.triz_items(f"{TRIZ_PREFIX}principle:{n}", "", round(score * (0.9 - 0.01 * rank), 4))
        return items

    def build(
        self,
        data: dict[str, Any],
        docs: Callable[[str], DocRef | None],
        limit: int,
        pairs: Sequence[tuple[int, int]] = (),
    ) -> tuple[list[Source], str]:
        """Sources ranked best first and the context text built from them.

        Scores fall with LightRAG's rank in each list (chunks, relations, entities). The matrix cells of the
        contradictions the analyzer found in the query (`pairs`) come first: they answer it most directly.
        """
        items: list[Item] = []
        for rank, (a, b) in enumerate(pairs):
            lo, hi = sorted((a, b))
            key = matrix_pair_key(lo, hi)
            items.extend(self.triz_items(key, matrix_text(self.kb, lo, hi), 1.0 - 0.02 * rank, expand=True))

        expanded = bool(pairs)

        def add(key: str, text: str, score: float, title: str, chunk_id: str = "") -> None:
            nonlocal expanded
            if key.startswith(TRIZ_PREFIX):
                # Without a contradiction from the analyzer, the best matrix relation brings its principles.
                expand = not expanded and key.startswith(f"{TRIZ_PREFIX}matrix:")
                expanded = expanded or expand
                items.extend(self.triz_items(key, text, score, expand=expand))
                return
            ref = docs(key)
            if ref is None:
                return
            page = ref.page(text) if chunk_id else None
            item = Item(chunk_id or f"{key}:{title}", ref.kind, title or ref.name, text, score, text, ref.name, page)
            items.append(item)

        _walk(data, add)
        ranked = sorted(_merged(items), key=lambda it: -it.score)[:limit]
        sources = [it.source() for it in ranked]
        context = "\n\n".join(
            f"[{i}] ({src.kind}) {src.title}\n{it.text or src.snippet}"
            for i, (it, src) in enumerate(zip(ranked, sources, strict=True), 1)
        )
        return sources, context


def _walk(data: dict[str, Any], add: Callable[..., None]) -> None:
    """Feed LightRAG's chunks, relations and entities to `add`, each list scored by rank."""
    for rank, chunk in enumerate(data.get("chunks") or []):
        key = str(chunk.get("file_path", ""))
        add(key, str(chunk.get("content", "")), round(1.0 / (1 + 0.15 * rank), 4), "", str(chunk.get("chunk_id", "")))
    for rank, rel in enumerate(data.get("relationships") or []):
        key = str(rel.get("file_path", "")).split("<SEP>")[0]
        title = f"{rel.get('src_id', '')} — {rel.get('tgt_id', '')}"
        add(key, str(rel.get("description", "")), round(0.95 / (1 + 0.15 * rank), 4), title)
    for rank, ent in enumerate(data.get("entities") or []):
        key = str(ent.get("file_path", "")).split("<SEP>")[0]
        add(key, str(ent.get("description", "")), round(0.9 / (1 + 0.15 * rank), 4), str(ent.get("entity_name", "")))


def _merged(items: list[Item]) -> list[Item]:
    """One item per id, in first-seen order, with the best score and the longest text any of its copies had."""
    best: dict[str, Item] = {}
    for item in items:
        known = best.get(item.id)
        if known is None:
            best[item.id] = item
        else:
            if item.score > known.score:
                known.score = item.score
            if len(item.text) > len(known.text):
                known.text = item.text
    return list(best.values())
