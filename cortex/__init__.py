"""CORTEX: retrieval of TRIZ knowledge and the user's documents over LightRAG, in process or over HTTP.

The names below are imported on first use: `import cortex.client` or `cortex.models` loads neither
LightRAG nor the service (SYNAPSE's HTTP client side and the terminal need only those).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cortex.api import create_app
    from cortex.backend import CortexBackend
    from cortex.client import CortexClient
    from cortex.errors import (
        BadDocumentError,
        CortexError,
        CortexUnavailableError,
        DocumentNotFoundError,
        DocumentTooLargeError,
        EmbedderMismatchError,
        UnsupportedDocumentError,
    )
    from cortex.models import CortexHealth, DocumentInfo, QueryRequest, QueryResult, Source
    from cortex.service import Cortex

#: Where each public name lives.
_HOMES = {
    "BadDocumentError": "cortex.errors",
    "Cortex": "cortex.service",
    "CortexBackend": "cortex.backend",
    "CortexClient": "cortex.client",
    "CortexError": "cortex.errors",
    "CortexHealth": "cortex.models",
    "CortexUnavailableError": "cortex.errors",
    "DocumentInfo": "cortex.models",
    "DocumentNotFoundError": "cortex.errors",
    "DocumentTooLargeError": "cortex.errors",
    "EmbedderMismatchError": "cortex.errors",
    "QueryRequest": "cortex.models",
    "QueryResult": "cortex.models",
    "Source": "cortex.models",
    "UnsupportedDocumentError": "cortex.errors",
    "create_app": "cortex.api",
}

__all__ = [
    "BadDocumentError",
    "Cortex",
    "CortexBackend",
    "CortexClient",
    "CortexError",
    "CortexHealth",
    "CortexUnavailableError",
    "DocumentInfo",
    "DocumentNotFoundError",
    "DocumentTooLargeError",
    "EmbedderMismatchError",
    "QueryRequest",
    "QueryResult",
    "Source",
    "UnsupportedDocumentError",
    "create_app",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'cortex' has no attribute {name!r}")
    value = getattr(import_module(home), name)
    globals()[name] = value  # once imported, later look-ups do not come here
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
