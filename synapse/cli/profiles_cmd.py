"""`synapse profiles list|show`: the agent profiles SYNAPSE serves and what each brings."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from synapse.agent.profile_set import ProfileSet
from synapse.agent.profiles import ProfileError
from synapse.cli.common import console, print_json, reports_errors
from synapse.config import SynapseSettings

app = typer.Typer(help="Agent profiles (SYNAPSE_PROFILES): each a model with its adapter, prompt and knowledge.")


def _loaded() -> ProfileSet:
    # Adapters are resolved as `synapse serve` does, so a missing LoRA shows here before the server starts.
    return ProfileSet.load(SynapseSettings())


@app.command(name="list")
@reports_errors
def list_(json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Every profile: its role, adapter or model, collections and RAG mode."""
    found = _loaded()
    if json:
        print_json({name: p.model_dump(mode="json") for name, p in found.profiles.items()})
        return
    table = Table(title="Agent profiles")
    for column in ("model", "role", "adapter / model", "collections", "rag", "description"):
        table.add_column(column)
    for name, p in found.profiles.items():
        adapter = found.adapters.get(name)
        source = adapter.path.name if adapter is not None else (p.model or f"({p.role} model)")
        collections = ", ".join(p.collections) if p.collections else "all"
        table.add_row(name, p.role, source, collections, p.rag_mode or "default", p.description)
    console.print(table)


@app.command()
@reports_errors
def show(
    name: Annotated[str, typer.Argument(help="The profile's name, as in `synapse profiles list`.")],
    json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """One profile in full, its adapter file resolved."""
    found = _loaded()
    profile = found.get(name)
    if profile is None:
        raise ProfileError(f"no profile named {name!r}", "known: " + ", ".join(found.profiles))
    adapter = found.adapters.get(name)
    data = {**profile.model_dump(mode="json"), "adapter_file": str(adapter.path) if adapter else None}
    if adapter is not None:
        data["ollama_model"] = adapter.ollama_model
    if json:
        print_json(data)
        return
    for key, value in data.items():
        console.print(f"{key}: {value}", markup=False, highlight=False)
