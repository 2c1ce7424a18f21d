"""Reading a TOML file of `[profiles.NAME]` tables (export profiles, agent profiles), naming the file on errors."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from synapse.errors import SynapseError

#: Makes the caller's own error from a message and a hint (ExportProfileError, ProfileError).
ErrorFactory = Callable[[str, str], SynapseError]


def read_profile_tables(path: Path, what: str, env: str, error: ErrorFactory) -> dict[str, dict[str, Any]]:
    """The `[profiles.NAME]` tables of `path`, checked for shape but not validated; `what` names the file in
    messages ("export profile file"), `env` the variable that points to it."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"cannot read the {what} {path}: {exc.strerror or exc}", f"create it, or unset {env}") from None
    data = _parse_toml(text, path, error)
    extra = sorted(set(data) - {"profiles"})
    if extra:
        raise error(
            f"{path}: unexpected top-level key(s): {', '.join(extra)}", "put each profile in a [profiles.NAME] table"
        )
    tables = data.get("profiles", {})
    if not isinstance(tables, dict):
        raise error(f"{path}: 'profiles' must be a table", "write [profiles.NAME] tables")
    for name, table in tables.items():
        if not isinstance(table, dict):
            raise error(
                f"{path}: profile {name!r} must be a table, not a {type(table).__name__}",
                f"write it as [profiles.{name}] followed by its fields",
            )
    return cast(dict[str, dict[str, Any]], tables)


def _parse_toml(text: str, path: Path, error: ErrorFactory) -> dict[str, Any]:
    """Parse TOML with tomllib (Python 3.11+) or tomli (3.10)."""
    try:
        toml = importlib.import_module("tomllib")
    except ModuleNotFoundError:
        try:
            toml = importlib.import_module("tomli")
        except ModuleNotFoundError:
            raise error(
                f"cannot read {path}: Python {sys.version_info[0]}.{sys.version_info[1]} has no TOML parser",
                "install `tomli` into this environment, or use Python 3.11 or newer",
            ) from None
    try:
        return cast(dict[str, Any], toml.loads(text))
    except toml.TOMLDecodeError as exc:
        raise error(
            f"{path}: not valid TOML: {exc}",
            "each profile is a [profiles.NAME] table of `field = value` lines; strings need quotes",
        ) from None
