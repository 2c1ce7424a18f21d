"""What every command shares: consoles, error reporting, JSON output."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Mapping
from typing import ParamSpec, TypeVar

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.text import Text

from synapse.errors import SynapseError

P = ParamSpec("P")
R = TypeVar("R")

console = Console()
err_console = Console(stderr=True)


def reports_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn a SynapseError into a short message on stderr and its exit code, without a traceback."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except SynapseError as exc:
            # Messages quote paths and pip extras such as '.[export]': never read them as markup.
            err_console.print(Text("error: ", style="bold red") + Text(exc.message), highlight=False)
            if exc.hint:
                err_console.print(Text(f"  {exc.hint}"), highlight=False)
            raise typer.Exit(exc.exit_code) from None

    return wrapper


def print_json(model: BaseModel | Mapping[str, object]) -> None:
    """Machine-readable output: plain UTF-8 JSON on stdout, no colours or wrapping."""
    if isinstance(model, BaseModel):
        text = model.model_dump_json(indent=2)
    else:
        text = json.dumps(model, ensure_ascii=False, indent=2)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
