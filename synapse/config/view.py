"""The effective settings of all services, as `synapse config` shows them."""

from __future__ import annotations

from typing import Any

from synapse.config.services import CortexSettings, ExportSettings, OllamaSettings, SynapseSettings, TerminalSettings


def effective_settings() -> dict[str, dict[str, Any]]:
    """Every service's settings as they resolve now, secrets masked."""
    return {
        "synapse": SynapseSettings().masked(),
        "cortex": CortexSettings().masked(),
        "terminal": TerminalSettings().masked(),
        "ollama": OllamaSettings().masked(),
        "export": ExportSettings().masked(),
    }
