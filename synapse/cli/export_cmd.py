"""`synapse export PROFILE`: LoRA merge → GGUF → quantize → verify → Modelfile → Ollama."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from export.errors import ExportInputError, ExportProfileError, MissingExportPackages
from synapse.cli.common import console, err_console, print_json, reports_errors

if TYPE_CHECKING:
    from export.service import ExportOptions, ExportOutcome

_NEEDS = ("torch", "transformers", "peft", "gguf", "safetensors", "llama_cpp")


def _require_export_extra() -> None:
    missing = [m for m in _NEEDS if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingExportPackages(
            f"the export needs packages that are not installed: {', '.join(missing)}",
            "install them with: python3 bootstrap.py install llm,export  (or pip install -e '.[export]')",
        )


def _list_profiles() -> None:
    from export.profiles import load_profiles

    table = Table(title="Export profiles")
    for col in ("name", "base", "quant", "ollama name", "adapter"):
        table.add_column(col)
    for p in load_profiles().values():
        table.add_row(p.name, p.base, p.quant, p.ollama_name, p.adapter or "-")
    console.print(table)


def _render(outcome: ExportOutcome) -> None:
    m = outcome.manifest
    table = Table(title=f"{m.model_name}: {'reused' if m.reused else m.status}")
    table.add_column("")
    table.add_column("")
    for art in m.outputs:
        table.add_row(art.path, f"{art.bytes / 2**20:.1f} MiB")
    for check in m.verification.files:
        figures = []
        if check.max_abs_logit_error is not None:
            figures.append(f"max |Δlogit| {check.max_abs_logit_error:.3g}")
        if check.top1_agreement is not None:
            figures.append(f"top-1 {check.top1_agreement:.2%}")
        if check.tensor_error is not None:
            figures.append(f"tensor error {check.tensor_error:.3g}")
        if check.chat_stopped is not None:
            figures.append("chat stops" if check.chat_stopped else "chat does not stop")
        table.add_row(f"verify {check.kind}", ", ".join(figures))
    if m.base_gguf is not None:
        table.add_row("base GGUF", f"{'reused from' if m.base_reused else 'written to'} {m.base_gguf}")
    table.add_row("timings", ", ".join(f"{k} {v:.1f} s" for k, v in m.timings_s.items()))
    table.add_row("peak RSS (convert)", f"{m.convert_peak_rss_mb:.0f} MiB")
    if m.trainable_params is not None:
        table.add_row("adapter parameters", f"{m.trainable_params:,}")
    table.add_row("Modelfile", str(outcome.modelfile))
    if outcome.registration is not None:
        table.add_row("Ollama", f"registered {outcome.registration.model}")
    console.print(table)


def _options(**values: Any) -> ExportOptions:
    """The command line's choices, or an error that names the bad option and where the choices are."""
    from export.service import ExportOptions

    try:
        return ExportOptions.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]).replace("_", "-")
        raise ExportInputError(f"bad --{field}: {first['msg']}", "see synapse export --help for the choices") from None


def _run_with_progress(profile: str, options: ExportOptions) -> ExportOutcome:
    """Run the export with one progress bar per phase (and per Ollama status) on stderr."""
    from export.profiles import get_profile
    from export.service import run_profile_export

    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeElapsedColumn(), console=err_console
    )
    tasks: dict[str, Any] = {}

    def on_phase(phase: str, done: int, total: int) -> None:
        if phase not in tasks:
            tasks[phase] = progress.add_task(phase, total=total or None)
        progress.update(tasks[phase], completed=done, total=total or None)

    def on_register(status: str, done: int | None, total: int | None) -> None:
        on_phase(f"ollama: {status}"[:40], done or 0, total or 0)

    with progress:
        return run_profile_export(get_profile(profile), options, on_phase, on_register)


# Typer maps each parameter to one command-line option, so this signature is as long as the option list.
@reports_errors
def export(  # noqa: PLR0913
    profile: Annotated[str | None, typer.Argument(help="Export profile, e.g. td010v2 (see --list).")] = None,
    list_profiles: Annotated[bool, typer.Option("--list", help="List the export profiles and exit.")] = False,
    base: Annotated[str | None, typer.Option(help="Base model directory or Hugging Face id.")] = None,
    adapter: Annotated[Path | None, typer.Option(help="LoRA adapter directory (peft).")] = None,
    out: Annotated[Path | None, typer.Option(help="Output directory.")] = None,
    quant: Annotated[str | None, typer.Option(help="Q4_K_M, Q5_K_M, Q6_K, Q8_0 or F16.")] = None,
    mode: Annotated[str, typer.Option(help="merged (one GGUF) or adapter (base GGUF + LoRA GGUF).")] = "merged",
    lora_type: Annotated[
        str, typer.Option(help="Adapter mode's LoRA GGUF: F32 (exact) or F16 (half the memory, slower on CPU).")
    ] = "F32",
    verify: Annotated[str, typer.Option(help="full, quick or none.")] = "full",
    no_register: Annotated[bool, typer.Option("--no-register", help="Do not register with Ollama.")] = False,
    ollama_host: Annotated[str | None, typer.Option(help="Ollama URL (default: OLLAMA_HOST).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Redo the export even if finished outputs exist.")] = False,
    download: Annotated[bool, typer.Option("--download", help="Allow downloading the base model.")] = False,
    json: Annotated[bool, typer.Option("--json", help="Print the manifest as JSON.")] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", help="Print llama.cpp's log on the terminal too (always in export.log).")
    ] = False,
) -> None:
    """Merge a LoRA adapter into its base, write GGUF, quantize, verify, write the Modelfile, register."""
    _require_export_extra()
    if list_profiles:
        _list_profiles()
        return
    if profile is None:
        raise ExportProfileError(
            "name an export profile", "synapse export --list shows them; e.g. synapse export td010v2"
        )
    options = _options(
        base=base,
        adapter=adapter,
        out=out,
        quant=quant,
        mode=mode,
        lora_type=lora_type,
        verify=verify,
        register_with_ollama=not no_register,
        ollama_host=ollama_host,
        force=force,
        download=download,
        verbose=verbose,
    )
    outcome = _run_with_progress(profile, options)
    if json:
        print_json(outcome.model_dump(mode="json"))
    else:
        _render(outcome)
    if outcome.register_error:
        err_console.print(Text("not registered: ", style="bold yellow") + Text(outcome.register_error))
        raise typer.Exit(1)
