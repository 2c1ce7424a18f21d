"""What the API never shows a client: absolute file paths (a model's GGUF, a data directory)."""

from __future__ import annotations

import re
from typing import Any

# An absolute POSIX or Windows path (not the path part of a URL: that follows a host or a colon).
_ABS_PATH = re.compile(r"(?<![\w:/.\\~-])(?:~|[A-Za-z]:)?(?:[/\\][^\s/\\'\"()\[\]{},;:]+)+")


def _file_name(match: re.Match[str]) -> str:
    return re.split(r"[/\\]", match.group(0))[-1]


def without_paths(value: Any) -> Any:
    """`value` (JSON-like) with every absolute file path cut to its file name."""
    if isinstance(value, str):
        return _ABS_PATH.sub(_file_name, value)
    if isinstance(value, dict):
        return {k: without_paths(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_paths(v) for v in value]
    return value
