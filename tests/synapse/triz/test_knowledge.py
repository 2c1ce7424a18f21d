"""The shipped TRIZ knowledge is complete, consistent and faithful to its source."""

from __future__ import annotations

import csv

import pytest
from pydantic import ValidationError

from synapse.triz import MatrixCell, TrizKnowledge
from tests.conftest import SHARED


def test_counts(kb: TrizKnowledge) -> None:
    assert len(kb.parameters) == 39
    assert len(kb.principles) == 40
    assert [s.id for s in kb.separation] == ["space", "time", "condition", "system"]
    assert len(kb.cells) == 1248


@pytest.mark.parametrize(
    ("cell", "expected"),
    [((1, 3), [15, 8, 29, 34]), ((14, 1), [1, 8, 40, 15]), ((19, 9), [8, 15, 35]), ((2, 4), [10, 1, 29, 35])],
)
def test_landmark_cells(kb: TrizKnowledge, cell: tuple[int, int], expected: list[int]) -> None:
    found = kb.cell(*cell)
    assert found is not None
    assert found.principles == expected


def test_matrix_is_well_formed(kb: TrizKnowledge) -> None:
    for c in kb.cells:
        assert c.improving != c.worsening
        assert all(1 <= p <= 40 for p in c.principles)
        assert len(set(c.principles)) == len(c.principles)
    for i in range(1, 40):
        assert kb.cell(i, i) is None


def test_disputed_cells_are_marked(kb: TrizKnowledge) -> None:
    disputed = [c for c in kb.cells if c.disputed]
    assert len(disputed) == 64
    close_calls = [c for c in disputed if c.votes == "3/5"]
    assert len(close_calls) == 14
    cell = kb.cell(19, 9)
    assert cell is not None and cell.disputed


@pytest.mark.skipif(not (SHARED / "data" / "triz").exists(), reason="shared/ not beside the repo")
def test_matrix_and_names_match_the_shared_source(kb: TrizKnowledge) -> None:
    src = SHARED / "data" / "triz"
    with (src / "matrix.csv").open(encoding="utf-8") as fh:
        rows = {
            (int(r["improving"]), int(r["worsening"])): [int(p) for p in r["principles"].split()]
            for r in csv.DictReader(fh)
        }
    assert {(c.improving, c.worsening): c.principles for c in kb.cells} == rows
    with (src / "parameters.csv").open(encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            p = kb.parameter(int(r["id"]))
            assert (p.name.en, p.name.ru) == (r["name_en"], r["name_ru"])
    with (src / "principles.csv").open(encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            pr = kb.principle(int(r["id"]))
            assert (pr.name.en, pr.name.ru) == (r["name_en"], r["name_ru"])


def test_texts_are_bilingual_and_complete(kb: TrizKnowledge) -> None:
    for p in kb.parameters:
        assert len(p.synonyms.en) >= 10 and len(p.synonyms.ru) >= 10, p.id
        assert p.description.en != p.description.ru
    for pr in kb.principles:
        labels = [s.label for s in pr.sub_principles]
        assert labels == [chr(ord("A") + i) for i in range(len(labels))], pr.id
        assert len(pr.examples) >= 2
    for s in kb.separation:
        assert all(1 <= n <= 40 for n in s.principles)


def test_self_cell_is_rejected() -> None:
    with pytest.raises(ValidationError, match="self-cell"):
        MatrixCell(improving=3, worsening=3, principles=[1])


def test_out_of_range_principle_is_rejected() -> None:
    with pytest.raises(ValidationError, match="outside"):
        MatrixCell(improving=1, worsening=2, principles=[41])


def test_incomplete_knowledge_is_rejected(kb: TrizKnowledge) -> None:
    data = kb.model_dump()
    data["parameters"] = data["parameters"][:-1]
    with pytest.raises(ValidationError, match=r"numbered 1\.\.39"):
        TrizKnowledge(**data)
