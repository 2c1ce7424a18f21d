"""The client of a running SYNAPSE's chat API (`/v1/models`, `/v1/chat/completions`, plain and streamed).

    from synapse.client import Client, ChatOptions

    with Client("http://127.0.0.1:8000", api_key="...") as client:
        for chunk in client.stream_chat("triz-agent", [{"role": "user", "content": "..."}], ChatOptions(rag="mix")):
            print(chunk.text, end="")

A bottom layer: it imports nothing of the agent, the API or the services.
"""

from synapse.client._base import DEFAULT_HOST, ChatOptions
from synapse.client._client import AsyncClient, Client
from synapse.client._errors import ClientError, ResponseError, StreamError, UnreachableError
from synapse.client._sse import ChunkParser, StreamedAnswer, error_detail
from synapse.client._types import (
    RAG_MODES,
    ChatChunk,
    ChatResponse,
    Choice,
    ChunkChoice,
    ContradictionItem,
    Delta,
    Message,
    ModelInfo,
    NamedRef,
    RagMode,
    RetrievalFacts,
    Routing,
    ServiceHealth,
    SourceItem,
    TrizSummary,
    TurnMeta,
    Usage,
)

__all__ = [
    "DEFAULT_HOST",
    "RAG_MODES",
    "AsyncClient",
    "ChatChunk",
    "ChatOptions",
    "ChatResponse",
    "Choice",
    "ChunkChoice",
    "ChunkParser",
    "Client",
    "ClientError",
    "ContradictionItem",
    "Delta",
    "Message",
    "ModelInfo",
    "NamedRef",
    "RagMode",
    "ResponseError",
    "RetrievalFacts",
    "Routing",
    "ServiceHealth",
    "SourceItem",
    "StreamError",
    "StreamedAnswer",
    "TrizSummary",
    "TurnMeta",
    "UnreachableError",
    "Usage",
    "error_detail",
]
