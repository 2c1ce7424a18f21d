"""Neuro-Terminal: the Chainlit chat UI in front of SYNAPSE (history, login, sources, documents).

Importing this package does not import Chainlit (which reads its config at import time); `terminal.app`
is the Chainlit entry and `terminal.launch.run` starts it.
"""

from terminal.client import DocumentClient, SynapseClient
from terminal.errors import IngestTimeoutError, ServiceApiError, ServiceUnreachableError, TerminalError
from terminal.models import DoneEvent, MetaEvent, StreamEvent, TokenEvent
from terminal.root import APP_FILE, CHAINLIT_ROOT

__all__ = [
    "APP_FILE",
    "CHAINLIT_ROOT",
    "DocumentClient",
    "DoneEvent",
    "IngestTimeoutError",
    "MetaEvent",
    "ServiceApiError",
    "ServiceUnreachableError",
    "StreamEvent",
    "SynapseClient",
    "TerminalError",
    "TokenEvent",
]
