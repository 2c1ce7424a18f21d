"""`synapse config`: the effective settings of every service."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from synapse.cli.common import console, print_json, reports_errors
from synapse.config import effective_settings


@reports_errors
def config(json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Print the effective settings (environment, .env, defaults), secrets masked."""
    values = effective_settings()
    if json:
        print_json(values)
        return
    table = Table(title="Effective settings")
    table.add_column("service")
    table.add_column("setting")
    table.add_column("value")
    for service, items in values.items():
        for key, value in items.items():
            table.add_row(service, key, str(value))
    console.print(table)
