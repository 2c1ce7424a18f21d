"""`synapse eval`: control questions against two or more models, RAG on and off, into a Markdown report."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from synapse.cli.common import console, reports_errors


@reports_errors
def eval_(
    models: Annotated[
        str, typer.Option(help="Comma-separated models (agent or backend names).")
    ] = "triz-agent,triz-agent-base",
    rag: Annotated[str, typer.Option(help="Comma-separated retrieval modes to compare.")] = "mix,off",
    out: Annotated[Path, typer.Option(help="Where to write the Markdown report.")] = Path("synapse-eval.md"),
    questions: Annotated[Path | None, typer.Option(help="A control question file (default: the shipped set).")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N questions.")] = None,
    max_tokens: Annotated[int, typer.Option(min=1, help="Longest answer, in tokens.")] = 384,
) -> None:
    """Run the TRIZ control questions and write answers side by side with principles found, language, speed."""
    from synapse.agent.evaluation import load_control_questions, render_markdown, run_eval, write_report
    from synapse.client import RAG_MODES
    from synapse.errors import SynapseError

    model_list = [m.strip() for m in models.split(",") if m.strip()]
    modes = [m.strip() for m in rag.split(",") if m.strip()]
    if not model_list:
        raise SynapseError("no models given", "pass --models triz-agent,triz-agent-base")
    bad = [m for m in modes if m not in RAG_MODES]
    if bad or not modes:
        raise SynapseError(f"unknown RAG mode(s): {', '.join(bad) or '(none)'}", f"use: {', '.join(RAG_MODES)}")
    qs = load_control_questions(questions)[:limit]

    async def run() -> str:
        from synapse.agent import create_agent

        agent = await create_agent()
        total = len(qs) * len(model_list) * len(modes)
        done = 0
        try:
            with console.status("evaluating") as status:

                def progress(label: str) -> None:
                    nonlocal done
                    done += 1
                    status.update(f"[{done}/{total}] {label}")

                report = await run_eval(agent, qs, model_list, modes, max_tokens=max_tokens, progress=progress)  # type: ignore[arg-type]
        finally:
            await agent.aclose()
        return render_markdown(report)

    path = write_report(asyncio.run(run()), out)
    console.print(f"report written to {path}", highlight=False)
