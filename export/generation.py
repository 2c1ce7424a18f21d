"""The base model's own sampling defaults, read from its `generation_config.json` under Ollama's names."""

from __future__ import annotations

import json
import logging
from pathlib import Path

log = logging.getLogger("export")

GENERATION_CONFIG = "generation_config.json"
# Hugging Face's names -> Ollama's PARAMETER names, with the range each value must fall in to be used.
_NAMES: dict[str, tuple[str, float, float]] = {
    "temperature": ("temperature", 0.0, 2.0),
    "top_p": ("top_p", 1e-9, 1.0),
    "top_k": ("top_k", 0, 1e9),
    "repetition_penalty": ("repeat_penalty", 1e-9, 10.0),
}


def base_sampling(base: Path) -> dict[str, float]:
    """The sampling values the base's `generation_config.json` sets, under Ollama's names; {} without one."""
    path = base / GENERATION_CONFIG
    if not path.is_file():
        return {}
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("ignoring %s: %s", path, exc)
        return {}
    if not isinstance(config, dict):
        return {}
    out: dict[str, float] = {}
    for hf_name, (name, low, high) in _NAMES.items():
        value = config.get(hf_name)
        # bool is an int to Python, and a stray `true` is no temperature.
        if isinstance(value, (int, float)) and not isinstance(value, bool) and low <= value <= high:
            out[name] = int(value) if name == "top_k" else float(value)
    return out
