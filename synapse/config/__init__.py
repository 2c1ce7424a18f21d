"""Settings of every service, from the environment and `.env`."""

from synapse.config.base import MASK, ServiceSettings
from synapse.config.services import (
    CortexSettings,
    ExportSettings,
    OllamaSettings,
    SynapseSettings,
    TerminalSettings,
)
from synapse.config.view import effective_settings

__all__ = [
    "MASK",
    "CortexSettings",
    "ExportSettings",
    "OllamaSettings",
    "ServiceSettings",
    "SynapseSettings",
    "TerminalSettings",
    "effective_settings",
]
