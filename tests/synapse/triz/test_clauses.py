"""Splitting a statement into its improving and worsening sides."""

from __future__ import annotations

import pytest

from synapse.triz import split_statement


@pytest.mark.parametrize(
    ("text", "improving", "worsening"),
    [
        (
            "The van carries more cargo, but it accelerates slowly.",
            "carries more cargo",
            "accelerates slowly",
        ),
        ("Деталь стала легче, однако быстрее ломается.", "легче", "ломается"),
        ("Повышение производительности приводит к потерям материала.", "производительности", "потерям"),
        ("Чем выше давление, тем больше риск разрушения.", "давление", "разрушения"),
        ("The thicker the wall, the heavier the tank.", "thicker the wall", "heavier"),
        ("Двигатель шумит сильнее, зато мощность выросла.", "мощность", "шумит"),
        ("Если увеличить мощность двигателя, растет расход топлива.", "мощность", "расход"),
        ("If we make the blade thinner, it cracks sooner.", "thinner", "cracks"),
        ("The pump is sealed with epoxy, which complicates repairs.", "sealed", "repairs"),
        ("Корпус заливают компаундом, что усложняет ремонт.", "компаундом", "ремонт"),
        ("Raising the voltage speeds up charging at the cost of battery life.", "voltage", "battery life"),
    ],
)
def test_split(text: str, improving: str, worsening: str) -> None:
    split = split_statement(text)
    assert split.marker is not None
    assert improving in " ".join(p.text for p in split.improving)
    assert worsening in " ".join(p.text for p in split.worsening)
    assert worsening not in " ".join(p.text for p in split.improving)


def test_goal_clause_outweighs_means() -> None:
    split = split_statement("Чтобы ракета летела быстрее, нужно больше топлива, а это увеличивает ее вес.")
    goal, means = split.improving
    assert "быстрее" in goal.text and goal.weight == 1.0
    assert "топлива" in means.text and means.weight < 1.0
    assert "вес" in split.worsening[0].text


def test_no_marker_keeps_everything_on_one_side() -> None:
    split = split_statement("The pump moves water to the roof tank.")
    assert split.marker is None
    assert split.worsening == []
