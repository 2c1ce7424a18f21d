"""CORTEX: retrieval of TRIZ knowledge and the user's documents over LightRAG, in process or over HTTP."""

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
