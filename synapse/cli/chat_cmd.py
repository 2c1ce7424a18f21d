"""`synapse chat "question"`: one streamed answer from the agent, in process or from a running SYNAPSE."""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.text import Text

from synapse.cli.common import err_console, reports_errors

if TYPE_CHECKING:
    from synapse.client import ChatOptions


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _footer(sources: list[dict[str, Any]], warnings: list[str], routing: dict[str, Any] | None) -> None:
    sys.stdout.write("\n")
    for i, s in enumerate(sources, 1):
        err_console.print(Text(f"[{i}] {s['title']} ({s['kind']})", style="cyan"), highlight=False)
    for w in warnings:
        err_console.print(Text(f"warning: {w}", style="yellow"), highlight=False)
    if routing:
        err_console.print(Text(f"model: {routing['model']} via {routing['backend']}", style="dim"), highlight=False)


def _ask_remote(url: str, api_key: str, model: str, question: str, options: ChatOptions) -> None:
    """Stream the answer from the SYNAPSE at `url`; failures become errors that name --url."""
    from synapse.client import Client, ResponseError, StreamedAnswer, TurnMeta, UnreachableError
    from synapse.errors import SynapseError

    answer = StreamedAnswer()
    try:
        with Client(url, api_key=api_key, timeout=600.0) as client:
            for chunk in client.stream_chat(model, [{"role": "user", "content": question}], options):
                if piece := answer.add(chunk):
                    _write(piece)
    except ResponseError as exc:
        raise SynapseError(exc.message, "see `synapse serve` output") from exc
    except UnreachableError as exc:
        hint = "start it with `synapse serve`, or check --url"
        raise SynapseError(f"cannot reach SYNAPSE at {url}: {exc.reason}", hint) from exc
    meta = answer.meta or TurnMeta()
    routing = meta.routing.model_dump() if meta.routing else None
    _footer([s.model_dump() for s in meta.sources], meta.warnings, routing)


@reports_errors
def chat(
    question: Annotated[str, typer.Argument(help="The question or problem statement.")],
    model: Annotated[str, typer.Option(help="triz-agent, triz-agent-base, or a backend model.")] = "triz-agent",
    rag: Annotated[str | None, typer.Option(help="Retrieval mode: off|naive|local|global|hybrid|mix.")] = None,
    max_tokens: Annotated[int, typer.Option(min=1, help="Longest answer, in tokens.")] = 512,
    url: Annotated[str | None, typer.Option(help="Ask a running SYNAPSE (e.g. http://127.0.0.1:8000).")] = None,
    api_key: Annotated[str, typer.Option(envvar="SYNAPSE_CLIENT_KEY", help="Key for --url.")] = "",
) -> None:
    """Ask the TRIZ agent; the answer streams to stdout, sources and warnings follow on stderr."""
    from synapse.client import RAG_MODES, ChatOptions
    from synapse.errors import SynapseError

    if rag is not None and rag not in RAG_MODES:
        raise SynapseError(f"unknown RAG mode {rag!r}", f"use one of: {', '.join(RAG_MODES)}")
    if url:
        options = ChatOptions(rag=rag, max_tokens=max_tokens)
        _ask_remote(url, api_key, model, question, options)
        return

    async def run() -> None:
        from synapse.agent import create_agent
        from synapse.agent.oneshot import AskOptions, ask

        agent = await create_agent()
        try:
            answer = await ask(agent, question, AskOptions(model, rag, max_tokens), on_text=_write)
        finally:
            await agent.aclose()
        plan = answer.plan
        routing = {"model": plan.model, "backend": plan.backend}
        _footer([s.model_dump() for s in plan.sources], plan.warnings, routing)

    asyncio.run(run())
