"""HTTP clients of SYNAPSE (models, streamed chat) and of the document upload, on httpx."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import httpx

from terminal.errors import IngestTimeoutError, ServiceApiError, ServiceUnreachableError
from terminal.models import (
    DocumentStatus,
    DoneEvent,
    MetaEvent,
    ModelInfo,
    RagMode,
    StreamEvent,
    TokenEvent,
    TurnMeta,
    Usage,
)

_META_FIELDS = ("sources", "warnings", "triz", "retrieval", "routing")


def _headers(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def _error_detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:300] or response.reason_phrase
    return _detail_of(body) or response.reason_phrase


def _detail_of(body: Any) -> str:
    if isinstance(body, dict):
        error = body.get("error", body.get("detail"))
        if isinstance(error, dict):
            return str(error.get("message") or error)
        if error is not None:
            return str(error)
    return ""


class SynapseClient:
    """Talks to SYNAPSE's OpenAI-compatible API; every failure becomes a TerminalError."""

    def __init__(self, base_url: str, api_key: str = "", timeout_s: float = 300.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        # Connecting fails fast; reading waits as long as a slow CPU model needs for its next token.
        self._timeout = httpx.Timeout(timeout_s, connect=5.0)

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base_url, headers=_headers(self._api_key), timeout=self._timeout)

    def _unreachable(self) -> ServiceUnreachableError:
        return ServiceUnreachableError("SYNAPSE", self.base_url, "TERMINAL_SYNAPSE_URL", "synapse serve")

    async def models(self) -> list[ModelInfo]:
        """The models SYNAPSE offers, agent models first."""
        try:
            async with self._client() as client:
                response = await client.get("/v1/models")
        except httpx.TransportError as exc:
            raise self._unreachable() from exc
        if response.status_code != 200:
            raise ServiceApiError("SYNAPSE", response.status_code, _error_detail(response))
        return [ModelInfo.model_validate(item) for item in response.json().get("data", [])]

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
        body: dict[str, Any] = {"model": model, "messages": list(messages), "stream": True}
        if rag_mode is not None:
            body["rag"] = {"mode": rag_mode}
        if temperature is not None:
            body["temperature"] = temperature
        if user:
            body["user"] = user
        try:
            async with self._client() as client, client.stream("POST", "/v1/chat/completions", json=body) as response:
                if response.status_code != 200:
                    await response.aread()
                    raise ServiceApiError("SYNAPSE", response.status_code, _error_detail(response))
                async for event in self._events(response):
                    yield event
        except httpx.TransportError as exc:
            raise self._unreachable() from exc

    async def _events(self, response: httpx.Response) -> AsyncIterator[StreamEvent]:
        meta_sent = False
        finish = "stop"
        usage: Usage | None = None
        done = False
        # Read to the end rather than stop at [DONE]: an abandoned line iterator is closed later from another task.
        async for line in response.aiter_lines():
            if done or not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                done = True
                continue
            chunk = json.loads(data)
            if "error" in chunk:
                raise ServiceApiError("SYNAPSE", 500, _detail_of(chunk))
            if not meta_sent:
                meta_sent = True
                yield MetaEvent(meta=TurnMeta.model_validate({k: chunk[k] for k in _META_FIELDS if k in chunk}))
            if chunk.get("usage"):
                usage = Usage.model_validate(chunk["usage"])
            for choice in chunk.get("choices", []):
                text = (choice.get("delta") or {}).get("content")
                if text:
                    yield TokenEvent(text=text)
                if choice.get("finish_reason"):
                    finish = choice["finish_reason"]
        if not meta_sent:
            yield MetaEvent(meta=TurnMeta())
        yield DoneEvent(finish_reason=finish, usage=usage)


class DocumentClient:
    """Uploads files for ingestion (CORTEX's /documents) and follows their processing."""

    def __init__(self, documents_url: str, api_key: str = "", timeout_s: float = 60.0) -> None:
        self.url = documents_url.rstrip("/")
        self._api_key = api_key
        self._timeout = httpx.Timeout(timeout_s, connect=5.0)

    def _unreachable(self) -> ServiceUnreachableError:
        return ServiceUnreachableError("CORTEX", self.url, "TERMINAL_DOCUMENTS_URL", "synapse cortex serve")

    async def _request(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(headers=_headers(self._api_key), timeout=self._timeout) as client:
                response = await client.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            raise self._unreachable() from exc
        if response.status_code >= 400:
            raise ServiceApiError("CORTEX", response.status_code, _error_detail(response))
        body: dict[str, Any] = response.json()
        return body

    async def upload(self, name: str, content: bytes, mime: str) -> DocumentStatus:
        """Send one file; CORTEX answers at once and processes it in the background."""
        upload = {"file": (name, content, mime or "application/octet-stream")}
        body = await self._request("POST", self.url, files=upload)
        return DocumentStatus.model_validate(body)

    async def status(self, document_id: str) -> DocumentStatus:
        return DocumentStatus.model_validate(await self._request("GET", f"{self.url}/{document_id}"))

    async def wait(
        self,
        document: DocumentStatus,
        *,
        timeout_s: float,
        on_change: Callable[[DocumentStatus], Awaitable[None]] | None = None,
        interval_s: float = 0.5,
    ) -> DocumentStatus:
        """Poll until the document is processed or failed, reporting each change of state."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        current = document
        while not current.finished:
            if loop.time() > deadline:
                raise IngestTimeoutError(document.name, timeout_s)
            await asyncio.sleep(interval_s)
            latest = await self.status(document.id)
            if latest.status != current.status and on_change is not None:
                await on_change(latest)
            current = latest
        return current
