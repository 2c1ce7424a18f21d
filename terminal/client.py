"""The terminal's connections: SYNAPSE through synapse.client, CORTEX's documents through CortexClient.

Both speak in the terminal's errors, whose fixes name the TERMINAL_* settings.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from contextlib import aclosing
from urllib.parse import urlsplit, urlunsplit

import httpx

from cortex.client import CortexClient
from cortex.models import DocumentInfo
from synapse.client import (
    AsyncClient,
    ChatOptions,
    ClientError,
    ModelInfo,
    RagMode,
    ResponseError,
    ServiceHealth,
    StreamedAnswer,
    StreamError,
    TurnMeta,
    UnreachableError,
    error_detail,
)
from synapse.errors import SynapseError
from terminal.errors import IngestTimeoutError, ServiceApiError, ServiceUnreachableError
from terminal.models import DoneEvent, MetaEvent, StreamEvent, TokenEvent

_FINISHED = ("processed", "failed")


class SynapseClient:
    """SYNAPSE's chat API for the terminal: streamed turns as events; every failure becomes a TerminalError."""

    def __init__(self, base_url: str, api_key: str = "", timeout_s: float = 300.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        # Connecting fails fast; reading waits as long as a slow CPU model needs for its next token.
        self._timeout = httpx.Timeout(timeout_s, connect=5.0)

    def _client(self) -> AsyncClient:
        return AsyncClient(self.base_url, api_key=self._api_key, timeout=self._timeout)

    def _terminal_error(self, exc: ClientError) -> SynapseError:
        if isinstance(exc, UnreachableError):
            return ServiceUnreachableError("SYNAPSE", self.base_url, "TERMINAL_SYNAPSE_URL", "synapse serve")
        if isinstance(exc, ResponseError):
            return ServiceApiError("SYNAPSE", exc.status_code, exc.detail)
        if isinstance(exc, StreamError):
            return ServiceApiError("SYNAPSE", 500, exc.detail)
        return exc

    async def models(self) -> list[ModelInfo]:
        """The models SYNAPSE offers, agent models first."""
        try:
            async with self._client() as client:
                return await client.models()
        except ClientError as exc:
            raise self._terminal_error(exc) from exc

    async def health(self) -> ServiceHealth:
        """SYNAPSE's /health (its CORTEX says whether the graph modes reach the user's documents)."""
        try:
            async with self._client() as client:
                return await client.health()
        except ClientError as exc:
            raise self._terminal_error(exc) from exc

    async def stream_chat(
        self,
        messages: Sequence[dict[str, str]],
        *,
        model: str,
        rag_mode: RagMode | None = None,
        temperature: float | None = None,
        user: str | None = None,
    ) -> AsyncGenerator[StreamEvent, None]:
        """Send a chat turn with `stream: true` and yield its metadata, tokens and end as they come."""
        options = ChatOptions(rag=rag_mode, temperature=temperature, user=user)
        answer = StreamedAnswer()
        try:
            async with self._client() as client, aclosing(client.stream_chat(model, messages, options)) as chunks:
                async for chunk in chunks:
                    first = answer.meta is None
                    piece = answer.add(chunk)
                    if first:
                        yield MetaEvent(meta=answer.meta or TurnMeta())
                    if piece:
                        yield TokenEvent(text=piece)
        except ClientError as exc:
            raise self._terminal_error(exc) from exc
        if answer.meta is None:
            yield MetaEvent(meta=TurnMeta())
        yield DoneEvent(finish_reason=answer.finish_reason, usage=answer.usage)


def _split_documents_url(url: str) -> tuple[str, str]:
    """TERMINAL_DOCUMENTS_URL as CortexClient takes it: the server's origin and the path of the documents."""
    parts = urlsplit(url.rstrip("/"))
    return urlunsplit((parts.scheme, parts.netloc, "", "", "")), parts.path or "/"


class DocumentClient(CortexClient):
    """CORTEX's documents for the terminal: upload, then follow the processing; failures are TerminalErrors."""

    def __init__(self, documents_url: str, api_key: str = "", timeout_s: float = 60.0) -> None:
        self.url = documents_url.rstrip("/")
        origin, path = _split_documents_url(self.url)
        # No idle connections kept: one left unclosed costs nothing, and uploads are seconds apart anyway.
        transport = httpx.AsyncHTTPTransport(limits=httpx.Limits(max_keepalive_connections=0))
        timeout = httpx.Timeout(timeout_s, connect=5.0)
        super().__init__(origin, api_key, timeout=timeout, transport=transport, documents_path=path)

    def _unreachable(self, exc: httpx.TransportError) -> SynapseError:
        return ServiceUnreachableError("CORTEX", self.url, "TERMINAL_DOCUMENTS_URL", "synapse cortex serve")

    def _error(self, response: httpx.Response) -> SynapseError:
        return ServiceApiError("CORTEX", response.status_code, error_detail(response))

    async def upload(self, name: str, content: bytes, mime: str) -> DocumentInfo:
        """Send one file; CORTEX answers at once and processes it in the background (it types it by name)."""
        return await self.add_document(name, content)

    async def wait(
        self,
        document: DocumentInfo,
        *,
        timeout_s: float,
        on_change: Callable[[DocumentInfo], Awaitable[None]] | None = None,
        interval_s: float = 0.5,
    ) -> DocumentInfo:
        """Poll until the document is processed or failed, reporting each change of state."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        current = document
        while current.status not in _FINISHED:
            if loop.time() > deadline:
                raise IngestTimeoutError(document.name, timeout_s)
            await asyncio.sleep(interval_s)
            latest = await self.get_document(document.id)
            if latest.status != current.status and on_change is not None:
                await on_change(latest)
            current = latest
        return current
