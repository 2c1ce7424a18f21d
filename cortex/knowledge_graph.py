"""The TRIZ knowledge as a LightRAG custom knowledge graph: entities, relations and bilingual chunks."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, Field

from synapse.triz import Localized, Parameter, Principle, Separation, TrizKnowledge

# Bump when the shape of the graph built here changes, so stores built by older code are rebuilt.
GRAPH_FORMAT = "2"
TRIZ_PREFIX = "triz:"


class TrizGraph(BaseModel):
    """What ainsert_custom_kg takes, plus the version it was built from."""

    version: str
    chunks: list[dict[str, Any]] = Field(default_factory=list)
    entities: list[dict[str, Any]] = Field(default_factory=list)
    relationships: list[dict[str, Any]] = Field(default_factory=list)

    def custom_kg(self) -> dict[str, Any]:
        return {"chunks": self.chunks, "entities": self.entities, "relationships": self.relationships}


def graph_version(kb: TrizKnowledge) -> str:
    """Changes exactly when the knowledge data or the graph format changes."""
    return hashlib.sha256(f"{GRAPH_FORMAT}:{kb.version}".encode()).hexdigest()[:16]


def parameter_entity(p: Parameter) -> str:
    return f"TRIZ parameter {p.id}: {p.name.en}"


def principle_entity(p: Principle) -> str:
    return f"TRIZ principle {p.id}: {p.name.en}"


def separation_entity(s: Separation) -> str:
    return s.name.en


def _both(text: Localized) -> str:
    return f"{text.en}\n{text.ru}"


def _parameter_text(p: Parameter) -> str:
    return (
        f"Parameter {p.id}: {p.name.en} / Параметр {p.id}: {p.name.ru}\n"
        f"{_both(p.description)}\n"
        f"Also: {', '.join(p.synonyms.en[:12])}\nТакже: {', '.join(p.synonyms.ru[:12])}"
    )


def _principle_text(p: Principle, kb: TrizKnowledge) -> str:
    lines = [f"Principle {p.id}: {p.name.en} / Приём {p.id}: {p.name.ru}", _both(p.description)]
    lines += [f"{s.label}. {s.text.en} / {s.text.ru}" for s in p.sub_principles]
    lines += [f"Example: {e.en}\nПример: {e.ru}" for e in p.examples]
    seps = kb.separations_of(p.id)
    if seps:
        lines.append("Separation: " + "; ".join(f"{s.name.en} / {s.name.ru}" for s in seps))
    return "\n".join(lines)


def _separation_text(s: Separation, kb: TrizKnowledge) -> str:
    names = ", ".join(f"{n} {kb.principle(n).name.en} ({kb.principle(n).name.ru})" for n in s.principles)
    examples = "\n".join(f"Example: {e.en}\nПример: {e.ru}" for e in s.examples)
    return (
        f"{s.name.en} / {s.name.ru}\n{_both(s.description)}\n{_both(s.question)}\n"
        f"Principles / Приёмы: {names}\n{examples}"
    )


def _cell_line(kb: TrizKnowledge, improving: int, worsening: int) -> str | None:
    cell = kb.cell(improving, worsening)
    if cell is None:
        return None
    a, b = kb.parameter(improving), kb.parameter(worsening)
    names = ", ".join(f"{n} {kb.principle(n).name.en}" for n in cell.principles)
    return f"({improving},{worsening}) improving {a.name.en}, worsening {b.name.en}: principles {names}."


def matrix_text(kb: TrizKnowledge, lo: int, hi: int) -> str:
    """Both cells of a parameter pair in one text (the relation is undirected)."""
    a, b = kb.parameter(lo), kb.parameter(hi)
    lines = [f"Contradiction matrix: {a.name.en} / {b.name.en} (матрица противоречий: {a.name.ru} / {b.name.ru})"]
    lines += [line for line in (_cell_line(kb, lo, hi), _cell_line(kb, hi, lo)) if line is not None]
    return "\n".join(lines)


def matrix_pair_key(a: int, b: int) -> str:
    lo, hi = sorted((a, b))
    return f"{TRIZ_PREFIX}matrix:{lo}-{hi}"


def build_triz_graph(kb: TrizKnowledge) -> TrizGraph:
    """The whole TRIZ graph; no LLM involved. Matrix cells (i,j) and (j,i) share one undirected relation."""
    graph = TrizGraph(version=graph_version(kb))

    def chunk(key: str, content: str, order: int = 0) -> None:
        graph.chunks.append({"content": content, "source_id": key, "file_path": key, "chunk_order_index": order})

    def entity(key: str, name: str, kind: str, item: Parameter | Principle | Separation, text: str) -> None:
        chunk(key, text)
        graph.entities.append(
            {
                "entity_name": name,
                "entity_type": kind,
                "description": f"{item.name.en} / {item.name.ru}: {_both(item.description)}",
                "source_id": key,
                "file_path": key,
            }
        )

    for p in kb.parameters:
        entity(f"{TRIZ_PREFIX}parameter:{p.id}", parameter_entity(p), "triz_parameter", p, _parameter_text(p))
    for pr in kb.principles:
        entity(f"{TRIZ_PREFIX}principle:{pr.id}", principle_entity(pr), "triz_principle", pr, _principle_text(pr, kb))
    for s in kb.separation:
        key = f"{TRIZ_PREFIX}separation:{s.id}"
        entity(key, separation_entity(s), "triz_separation", s, _separation_text(s, kb))
        for n in s.principles:
            graph.relationships.append(
                {
                    "src_id": separation_entity(s),
                    "tgt_id": principle_entity(kb.principle(n)),
                    "description": f"{s.name.en} is achieved with principle {n} {kb.principle(n).name.en} / "
                    f"{s.name.ru}: приём {n} {kb.principle(n).name.ru}",
                    "keywords": "separation principle, physical contradiction",
                    "source_id": key,
                    "file_path": key,
                    "weight": 1.0,
                }
            )

    # Matrix cells live on the relations alone: embedding them twice (as chunks too) doubled the build time.
    # A relation's evidence chunk is its first parameter's text; `file_path` names the cell pair.
    pairs = sorted({tuple(sorted((c.improving, c.worsening))) for c in kb.cells})
    for lo, hi in pairs:
        key = matrix_pair_key(lo, hi)
        a, b = kb.parameter(lo), kb.parameter(hi)
        graph.relationships.append(
            {
                "src_id": parameter_entity(a),
                "tgt_id": parameter_entity(b),
                "description": matrix_text(kb, lo, hi),
                "keywords": "contradiction matrix",
                "source_id": f"{TRIZ_PREFIX}parameter:{lo}",
                "file_path": key,
                "weight": 1.0,
            }
        )
    return graph


def graph_fingerprint(graph: TrizGraph) -> str:
    """Hash of the graph's content (for tests and the manifest)."""
    return hashlib.sha256(json.dumps(graph.custom_kg(), sort_keys=True).encode()).hexdigest()[:16]
