"""`synapse triz ...`: the contradiction matrix, principle cards and the problem analyzer."""

from __future__ import annotations

from typing import Annotated

import typer

from synapse.cli.common import console, err_console, print_json, reports_errors
from synapse.cli.render import render_analysis, render_matrix, render_parameters, render_principle
from synapse.triz import analyze_problem, default_analyzer, load_knowledge, matrix_lookup, principle_card

app = typer.Typer(
    help="TRIZ core: contradiction matrix, inventive principles, contradiction analysis.",
    no_args_is_help=True,
)

LangOpt = Annotated[str, typer.Option("--lang", help="Answer language: auto, en or ru.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _check_lang(lang: str, allowed: tuple[str, ...] = ("auto", "en", "ru")) -> str:
    if lang not in allowed:
        raise typer.BadParameter(f"{lang!r} is not one of {', '.join(allowed)}", param_hint="--lang")
    return lang


@app.command()
@reports_errors
def matrix(
    improving: Annotated[str, typer.Argument(help="Parameter to improve: number 1-39 or name (EN/RU).")],
    worsening: Annotated[str, typer.Argument(help="Parameter that gets worse: number or name.")],
    lang: LangOpt = "auto",
    json: JsonOpt = False,
) -> None:
    """Look up the principles the contradiction matrix recommends."""
    answer = matrix_lookup(improving, worsening, _check_lang(lang))
    if json:
        print_json(answer)
    else:
        console.print(render_matrix(answer))


@app.command()
@reports_errors
def principle(
    number: Annotated[str, typer.Argument(help="Principle number, 1-40.")],
    lang: LangOpt = "en",
    json: JsonOpt = False,
) -> None:
    """Show an inventive principle: description, sub-principles, examples."""
    code = _check_lang(lang)
    card = principle_card(number, "ru" if code == "ru" else "en")
    if json:
        print_json(card)
    else:
        console.print(render_principle(card))


@app.command()
@reports_errors
def analyze(
    problem: Annotated[str, typer.Argument(help="The problem statement, e.g. 'X improves, but Y gets worse'.")],
    lang: LangOpt = "auto",
    top: Annotated[int, typer.Option("--top", help="How many candidate contradictions to return.")] = 3,
    json: JsonOpt = False,
) -> None:
    """Find the technical contradiction(s) in a free-text problem statement."""
    _check_lang(lang)
    if problem.strip():
        with err_console.status("Loading the TRIZ analyzer...", spinner="dots"):
            default_analyzer().warm_up()
    result = analyze_problem(problem, lang=lang, top=top)
    if json:
        print_json(result)
    else:
        console.print(render_analysis(result))


@app.command()
@reports_errors
def parameters(lang: LangOpt = "en", json: JsonOpt = False) -> None:
    """List the 39 engineering parameters."""
    code = _check_lang(lang)
    params = load_knowledge().parameters
    if json:
        print_json({"parameters": [p.model_dump() for p in params]})
    else:
        console.print(render_parameters(params, code))
