"""The TRIZ custom graph: every parameter, principle and separation; one relation per matrix pair."""

from __future__ import annotations

from cortex.knowledge_graph import build_triz_graph, graph_version, matrix_text
from synapse.triz import TrizKnowledge


def test_entities_and_relations_cover_the_knowledge(kb: TrizKnowledge) -> None:
    graph = build_triz_graph(kb)
    types = [e["entity_type"] for e in graph.entities]
    assert types.count("triz_parameter") == 39
    assert types.count("triz_principle") == 40
    assert types.count("triz_separation") == 4
    pairs = {tuple(sorted((c.improving, c.worsening))) for c in kb.cells}
    matrix = [r for r in graph.relationships if r["file_path"].startswith("triz:matrix:")]
    assert len(matrix) == len(pairs)
    assert all(r["src_id"] != r["tgt_id"] for r in graph.relationships)
    names = {e["entity_name"] for e in graph.entities}
    assert all(r["src_id"] in names and r["tgt_id"] in names for r in graph.relationships)
    sources = {c["source_id"] for c in graph.chunks}
    assert all(r["source_id"] in sources for r in graph.relationships)


def test_matrix_text_holds_both_cells(kb: TrizKnowledge) -> None:
    text = matrix_text(kb, 1, 14)
    assert "(1,14)" in text and "(14,1)" in text
    assert "28 Mechanics substitution" in text and "15 Dynamics" in text
    assert "Прочность" in text


def test_version_follows_the_knowledge(kb: TrizKnowledge) -> None:
    assert graph_version(kb) == graph_version(kb)
    assert graph_version(kb.model_copy(update={"version": "other"})) != graph_version(kb)
