"""Parameter resolution, matrix look-up and principle cards."""

from __future__ import annotations

import pytest

from synapse.errors import SynapseError, UnknownParameterError, UnknownPrincipleError
from synapse.triz import matrix_lookup, principle_card, resolve_parameter


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("14", 14),
        ("Strength", 14),
        ("strength", 14),
        ("прочность", 14),
        ("вес подвижного", 1),
        ("Вес неподвижного объекта", 2),
        ("speed", 9),
        ("device complexity", 36),
        ("  39 ", 39),
        ("объём подвижного", 7),
    ],
)
def test_resolve_parameter(query: str, expected: int) -> None:
    assert resolve_parameter(query).id == expected


@pytest.mark.parametrize("query", ["0", "40", "strenght", "весс подвижного", ""])
def test_unknown_parameter(query: str) -> None:
    with pytest.raises(UnknownParameterError):
        resolve_parameter(query)


def test_unknown_parameter_suggests_nearest_names() -> None:
    with pytest.raises(UnknownParameterError) as info:
        resolve_parameter("strenght")
    assert any("Strength" in s for s in info.value.suggestions)
    with pytest.raises(UnknownParameterError) as info:
        resolve_parameter("температурра")
    assert any("Температура" in s for s in info.value.suggestions)


def test_ambiguous_name_lists_candidates() -> None:
    with pytest.raises(UnknownParameterError) as info:
        resolve_parameter("weight")
    ids = sorted(int(s.split()[0]) for s in info.value.suggestions)
    assert ids == [1, 2]


def test_matrix_lookup_by_names_in_two_languages() -> None:
    ans = matrix_lookup("strength", "вес подвижного")
    assert (ans.improving.id, ans.worsening.id) == (14, 1)
    assert [p.id for p in ans.principles] == [1, 8, 40, 15]
    assert ans.lang == "ru"
    assert ans.principles[0].name == "Дробление"


def test_matrix_lookup_english_names() -> None:
    ans = matrix_lookup("14", "1", "en")
    assert [p.name for p in ans.principles] == [
        "Segmentation",
        "Anti-weight",
        "Composite materials",
        "Dynamics",
    ]


def test_empty_cell_has_note() -> None:
    ans = matrix_lookup("1", "2")
    assert ans.principles == []
    assert ans.note and "empty" in ans.note


def test_same_parameter_points_to_separation() -> None:
    with pytest.raises(SynapseError, match="physical contradiction"):
        matrix_lookup("9", "speed")


def test_disputed_cell_is_flagged() -> None:
    ans = matrix_lookup("9", "1")
    assert ans.disputed and ans.note and "3/5" in ans.note


def test_principle_card() -> None:
    card = principle_card(1, "ru")
    assert card.name == "Дробление"
    assert [s.label for s in card.sub_principles][:2] == ["A", "B"]
    assert len(card.examples) >= 2
    assert card.separation  # segmentation serves separation in space
    assert principle_card("40").name == "Composite materials"


@pytest.mark.parametrize("bad", [0, 41, "x", "-1"])
def test_unknown_principle(bad: int | str) -> None:
    with pytest.raises(UnknownPrincipleError):
        principle_card(bad)
