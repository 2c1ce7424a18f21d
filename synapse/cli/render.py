"""Human-readable rendering of TRIZ answers for the terminal."""

from __future__ import annotations

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from synapse.lang import Lang
from synapse.triz.models import Analysis, MatrixAnswer, Parameter, PrincipleCard, PrincipleRef

_LABELS = {
    "en": {
        "imp": "Improving",
        "wor": "Worsening",
        "pr": "Principles",
        "score": "Score",
        "ex": "Examples",
        "sep": "Separation",
        "none": "no recommendation",
    },
    "ru": {
        "imp": "Улучшается",
        "wor": "Ухудшается",
        "pr": "Приемы",
        "score": "Оценка",
        "ex": "Примеры",
        "sep": "Разделение",
        "none": "нет рекомендации",
    },
}


def _principles(items: list[PrincipleRef], lang: str) -> str:
    return "\n".join(f"{p.id:>2}. {p.name}" for p in items) or _LABELS[lang]["none"]


def render_matrix(ans: MatrixAnswer) -> Panel:
    lab = _LABELS[ans.lang]
    body = Table.grid(padding=(0, 2))
    body.add_row(Text(lab["imp"], style="bold green"), f"{ans.improving.id}. {ans.improving.name}")
    body.add_row(Text(lab["wor"], style="bold red"), f"{ans.worsening.id}. {ans.worsening.name}")
    body.add_row(Text(lab["pr"], style="bold"), _principles(ans.principles, ans.lang))
    parts: list[Table | Text] = [body]
    if ans.note:
        parts.append(Text(ans.note, style="yellow"))
    return Panel(Group(*parts), title="TRIZ matrix", expand=False)


def render_principle(card: PrincipleCard) -> Panel:
    lab = _LABELS[card.lang]
    text = Text()
    text.append(card.description + "\n\n")
    for sub in card.sub_principles:
        text.append(f"{sub.label}. ", style="bold")
        text.append(sub.text + "\n")
    text.append(f"\n{lab['ex']}:\n", style="bold")
    for ex in card.examples:
        text.append(f"• {ex}\n")
    if card.separation:
        text.append(f"\n{lab['sep']}: ", style="bold")
        text.append(", ".join(card.separation))
    return Panel(text, title=f"{card.id}. {card.name}", expand=False)


def render_analysis(result: Analysis) -> Table | Text:
    if not result.candidates:
        return Text(result.message or "", style="yellow")
    lab = _LABELS[result.lang]
    table = Table(title=f"TRIZ: {len(result.candidates)} contradiction(s), method {result.method}")
    table.add_column("#", justify="right")
    table.add_column(lab["imp"], style="green")
    table.add_column(lab["wor"], style="red")
    table.add_column(lab["score"], justify="right")
    table.add_column(lab["pr"])
    for n, c in enumerate(result.candidates, 1):
        table.add_row(
            str(n),
            f"{c.improving.id}. {c.improving.name}",
            f"{c.worsening.id}. {c.worsening.name}",
            f"{c.score:.2f}",
            _principles(c.principles, result.lang),
        )
    return table


def render_parameters(params: list[Parameter], lang: str) -> Table:
    table = Table(title="TRIZ parameters")
    table.add_column("#", justify="right")
    table.add_column("name")
    code: Lang = "ru" if lang == "ru" else "en"
    for p in params:
        table.add_row(str(p.id), p.name.get(code))
    return table
