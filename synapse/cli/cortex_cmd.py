"""`synapse cortex ...`: serve the CORTEX API, query it, manage documents, check the store, reindex, migrate."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.table import Table

from synapse.cli.common import console, err_console, print_json, reports_errors
from synapse.config import CortexSettings
from synapse.errors import SynapseError

if TYPE_CHECKING:  # importing LightRAG takes a second or two: only the cortex commands pay for it
    from cortex import CortexBackend, DocumentInfo, QueryResult
    from cortex.models import CheckReport, DocumentState

app = typer.Typer(help="CORTEX: retrieval of TRIZ knowledge and your documents (LightRAG).", no_args_is_help=True)

T = TypeVar("T")
UrlOpt = Annotated[
    str,
    typer.Option("--url", help="Use a running CORTEX server (e.g. http://127.0.0.1:8004) instead of the local store."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


class State(str, Enum):
    """DocumentState's values, spelled out: importing cortex.models would load LightRAG for every command."""

    pending = "pending"
    processing = "processing"
    processed = "processed"
    failed = "failed"


def _with_backend(url: str, work: Callable[[CortexBackend], Awaitable[T]]) -> T:
    """Run `work` against the server at `url`, or against the local store opened in this process."""
    from cortex import Cortex, CortexClient

    settings = CortexSettings()

    async def run() -> T:
        if url:
            async with CortexClient(url, api_key=settings.api_key.get_secret_value()) as client:
                return await work(client)
        with console.status("opening the CORTEX store (the first start builds the TRIZ graph)"):
            cortex = Cortex(settings)
            await cortex.start()
        try:
            return await work(cortex)
        finally:
            await cortex.aclose()

    return asyncio.run(run())


@app.command()
@reports_errors
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on (default CORTEX_HOST).")] = "",
    port: Annotated[int, typer.Option(help="Port (default CORTEX_PORT, 8004).", show_default=False)] = 0,
    workers: Annotated[
        int,
        typer.Option(
            help="Worker processes (default CORTEX_WORKERS, 1); >1 needs CORTEX_STORAGE=postgres.", show_default=False
        ),
    ] = 0,
) -> None:
    """Serve the CORTEX HTTP API (health, query, documents, check, TRIZ look-ups)."""
    from cortex import create_app
    from synapse.serving import Listen, SharedStore, serve_app

    settings = CortexSettings()
    if workers:
        settings = settings.model_copy(update={"workers": workers})
    listen = Listen(host or settings.host, port or settings.port, settings.workers)
    serve_app(lambda: create_app(settings), listen, SharedStore(settings, what="CORTEX"))


def _render_result(result: QueryResult) -> None:
    table = Table(title=f"{result.mode} · {result.elapsed_ms:.0f} ms", show_lines=False)
    for column in ("score", "kind", "title", "document", "snippet"):
        table.add_column(column, overflow="fold")
    for s in result.sources:
        doc = f"{s.document} p.{s.page}" if s.document and s.page else (s.document or "")
        table.add_row(f"{s.score:.2f}", s.kind, s.title, doc, s.snippet[:90])
    console.print(table)
    for warning in result.warnings:
        err_console.print(f"warning: {warning}")


@app.command()
@reports_errors
def query(  # noqa: PLR0913 - one argument per option of the command
    text: Annotated[str, typer.Argument(help="The question or problem statement.")],
    mode: Annotated[str, typer.Option(help="naive, local, global, hybrid or mix.")] = "mix",
    top_k: Annotated[int, typer.Option("--top-k", help="How many items each retrieval step takes.")] = 10,
    lang: Annotated[str, typer.Option(help="auto, en or ru.")] = "auto",
    collection: Annotated[
        list[str] | None,
        typer.Option("--collection", help="Only documents of this collection, plus the TRIZ knowledge (repeatable)."),
    ] = None,
    url: UrlOpt = "",
    json: JsonOpt = False,
) -> None:
    """Retrieve context and sources for a question (no generation)."""
    from pydantic import ValidationError

    from cortex import QueryRequest
    from synapse.errors import describe_invalid

    fields = {"query": text, "mode": mode, "top_k": top_k, "lang": lang, "collections": collection or None}
    try:
        request = QueryRequest.model_validate(fields)
    except ValidationError as exc:
        raise SynapseError(describe_invalid(list(exc.errors())), "see `synapse cortex query --help`") from None
    result = _with_backend(url, lambda backend: backend.query(request))
    if json:
        print_json(result)
    else:
        _render_result(result)


def _render_docs(docs: list[DocumentInfo]) -> None:
    table = Table(title=f"{len(docs)} documents")
    for column in ("id", "name", "kind", "collection", "status", "chunks", "size", "tags"):
        table.add_column(column, overflow="fold")
    for d in docs:
        status = f"{d.status}: {d.error}" if d.error else d.status
        row = (d.id, d.name, d.kind, d.collection or "", status, str(d.chunks), f"{d.size:,}", ", ".join(d.tags))
        table.add_row(*row)
    console.print(table)


@app.command()
@reports_errors
def add(
    files: Annotated[list[Path], typer.Argument(help=".txt, .md, .pdf or .docx files.")],
    kind: Annotated[str, typer.Option(help="document or dialogue.")] = "document",
    tag: Annotated[list[str] | None, typer.Option("--tag", help="A tag; repeat for more.")] = None,
    collection: Annotated[
        str, typer.Option("--collection", help="The collection the files belong to (a profile's knowledge).")
    ] = "",
    url: UrlOpt = "",
    json: JsonOpt = False,
) -> None:
    """Store files (the same content twice is stored once); locally, waits until they are processed."""
    from cortex import Cortex

    if kind not in ("document", "dialogue"):
        raise SynapseError(f"unknown kind {kind!r}", "use --kind document or --kind dialogue")
    payload = []
    for path in files:
        if not path.is_file():
            raise SynapseError(f"{path} is not a file", "give the path of a .txt, .md, .pdf or .docx file")
        payload.append((path.name, path.read_bytes()))

    async def work(backend: CortexBackend) -> list[DocumentInfo]:
        added = [
            await backend.add_document(n, d, kind=kind, tags=tag or [], collection=collection or None)  # type: ignore[arg-type]
            for n, d in payload
        ]
        if isinstance(backend, Cortex):  # a server goes on in the background; here we wait for the result
            with console.status("processing documents"):
                await backend.wait_idle(timeout=24 * 3600)
        return [await backend.get_document(d.id) for d in added]

    found = _with_backend(url, work)
    print_json({"documents": [d.model_dump(mode="json") for d in found]}) if json else _render_docs(found)


@app.command()
@reports_errors
def docs(
    url: UrlOpt = "",
    json: JsonOpt = False,
    status: Annotated[list[State] | None, typer.Option(help="Only documents in this state (repeatable).")] = None,
    collection: Annotated[str, typer.Option("--collection", help="Only the documents of this collection.")] = "",
) -> None:
    """List the stored documents and their processing state."""
    wanted: list[DocumentState] = [s.value for s in status or []]
    found = _with_backend(url, lambda backend: backend.list_documents(wanted, collection or None))
    print_json({"documents": [d.model_dump(mode="json") for d in found]}) if json else _render_docs(found)


@app.command()
@reports_errors
def delete(
    doc_id: Annotated[str, typer.Argument(help="The document id (see `synapse cortex docs`).")], url: UrlOpt = ""
) -> None:
    """Delete a document: its status, text, chunks, vectors and graph entries."""
    _with_backend(url, lambda backend: backend.delete_document(doc_id))
    console.print(f"deleted {doc_id}")


@app.command()
@reports_errors
def check(
    repair: Annotated[
        bool, typer.Option("--repair", help="Fix what is found, then wait until it is processed.")
    ] = False,
    url: UrlOpt = "",
    json: JsonOpt = False,
) -> None:
    """Check that every document is stored whole (chunks, vectors, status) and nothing is left over."""
    from cortex import Cortex, CortexClient

    settings = CortexSettings()

    async def run() -> CheckReport:
        if url:
            async with CortexClient(url, api_key=settings.api_key.get_secret_value()) as client:
                return await client.check(repair)
        # A plain check only reads: the store is opened without processing anything.
        cortex = Cortex(settings, build_graph=repair)
        with console.status("opening the CORTEX store"):
            await cortex.start()
        try:
            report = await cortex.check(repair)
            if report.requeued:
                with console.status(f"processing {len(report.requeued)} documents again"):
                    await cortex.wait_idle(3600)
            return report
        finally:
            await cortex.aclose()

    report = asyncio.run(run())
    if json:
        print_json(report)
    else:
        _render_check(report)
    if report.problems and not report.repaired:
        raise typer.Exit(1)


def _render_check(report: CheckReport) -> None:
    rows = "?" if report.chunks is None else f"{report.chunks:,}"
    console.print(
        f"{report.documents} documents ({report.processed} processed, {report.unfinished} unfinished, "
        f"{report.deleting} being deleted), {rows} chunk rows"
    )
    for problem in report.problems:
        console.print(f"  {problem.kind}: {problem.detail}")
    if not report.problems:
        console.print("the store is consistent")
    elif report.repaired:
        console.print(f"repaired; {len(report.requeued)} documents processed again")
    else:
        console.print("run `synapse cortex check --repair` to fix them")


@app.command()
@reports_errors
def reindex(json: JsonOpt = False) -> None:
    """Rebuild the store with the embedder now configured (CORTEX_EMBEDDER); stop `serve` first."""
    from cortex.reindex import reindex as run_reindex

    settings = CortexSettings()
    with console.status("reindexing") as status:
        report = asyncio.run(run_reindex(settings, progress=lambda msg: status.update(msg)))
    if json:
        print_json(report)
    else:
        console.print(
            f"reindexed {report.documents} documents: {report.old_embedder} -> {report.new_embedder} "
            f"in {report.seconds:.1f} s ({report.data_dir})"
        )


@app.command()
@reports_errors
def migrate(
    to: Annotated[str, typer.Option("--to", help="The PostgreSQL database: postgresql://user:password@host:5432/db")],
    store: Annotated[str, typer.Option(help="The store's name there (default CORTEX_POSTGRES_WORKSPACE).")] = "",
    force: Annotated[bool, typer.Option("--force", help="Replace a store of that name already there.")] = False,
    json: JsonOpt = False,
) -> None:
    """Copy the file store (CORTEX_DATA_DIR) into PostgreSQL without re-embedding, then check counts and vectors."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

    from cortex.migrate import migrate as run_migrate

    settings = CortexSettings()
    with Progress(
        TextColumn("{task.description:<18}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        disable=json,
    ) as bars:
        tasks: dict[str, TaskID] = {}

        def progress(step: str, done: int, total: int) -> None:
            if step not in tasks:
                tasks[step] = bars.add_task(step, total=max(total, 1))
            bars.update(tasks[step], completed=done if total else 1, total=max(total, 1))

        report = asyncio.run(run_migrate(settings, to, store=store or None, force=force, progress=progress))
    if json:
        print_json(report)
        return
    table = Table(title=f"{report.data_dir} -> {report.target} (store {report.store})")
    for column in ("namespace", "file store", "PostgreSQL"):
        table.add_column(column)
    for count in report.counts:
        table.add_row(count.namespace, f"{count.source:,}", f"{count.target:,}")
    console.print(table)
    console.print(
        f"{report.documents} documents, {report.vectors_compared} sampled vectors equal "
        f"(max difference {report.max_vector_error:.1e}), graph in {report.graph_storage}, {report.seconds:.1f} s. "
        f"Use it with CORTEX_STORAGE=postgres, CORTEX_POSTGRES_URL={report.target} (with its password), "
        f"CORTEX_POSTGRES_WORKSPACE={report.store} and the same CORTEX_DATA_DIR."
    )
