"""Neuro-Terminal: the Chainlit chat UI in front of SYNAPSE (history, login, sources, documents).

Importing this package does not import Chainlit (which reads its config at import time); `terminal.app`
is the Chainlit entry and `terminal.launch.run` starts it.
"""

from terminal.client import DocumentClient, SynapseClient
from terminal.errors import IngestTimeoutError, ServiceApiError, ServiceUnreachableError, TerminalError
from terminal.models import DocumentStatus, DoneEvent, MetaEvent, ModelInfo, StreamEvent, TokenEvent, TurnMeta
from terminal.root import APP_FILE, CHAINLIT_ROOT

__all__ = [
    "APP_FILE",
    "CHAINLIT_ROOT",
    "DocumentClient",
    "DocumentStatus",
    "DoneEvent",
    "IngestTimeoutError",
    "MetaEvent",
    "ModelInfo",
    "ServiceApiError",
    "ServiceUnreachableError",
    "StreamEvent",
    "SynapseClient",
    "TerminalError",
    "TokenEvent",
    "TurnMeta",
]
