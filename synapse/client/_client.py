"""The clients of SYNAPSE's OpenAI-compatible chat API: `Client` (sync) and `AsyncClient`."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterator

import httpx

from synapse.client._base import CHAT_PATH, HEALTH_PATH, MODELS_PATH, BaseClient, ChatOptions, Messages
from synapse.client._sse import ChunkParser
from synapse.client._types import ChatChunk, ChatResponse, ModelInfo, ServiceHealth


class Client(BaseClient[httpx.Client]):
    """Blocking client; use it as a context manager or call close()."""

    _http_type = httpx.Client

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def models(self) -> list[ModelInfo]:
        """The models SYNAPSE offers, agent models first."""
        with self._translating():
            response = self._http.get(MODELS_PATH)
        return self._models(response)

    def health(self) -> ServiceHealth:
        """SYNAPSE's backends and CORTEX, as /health reports them."""
        with self._translating():
            response = self._http.get(HEALTH_PATH)
        return self._health(response)

    def chat(self, model: str, messages: Messages, options: ChatOptions | None = None) -> ChatResponse:
        """One whole answer (`stream: false`)."""
        with self._translating():
            response = self._http.post(CHAT_PATH, json=self._chat_body(model, messages, options, stream=False))
        return self._completion(response)

    def stream_chat(self, model: str, messages: Messages, options: ChatOptions | None = None) -> Iterator[ChatChunk]:
        """The answer chunk by chunk as SYNAPSE streams it; the first chunk carries the extras."""
        parser, body = ChunkParser(), self._chat_body(model, messages, options, stream=True)
        with self._translating(), self._http.stream("POST", CHAT_PATH, json=body) as response:
            if response.status_code != 200:
                response.read()
                raise self._failure(response)
            for line in response.iter_lines():
                yield from parser.feed(line)


class AsyncClient(BaseClient[httpx.AsyncClient]):
    """Asyncio client; use it as an async context manager or await aclose()."""

    _http_type = httpx.AsyncClient

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def models(self) -> list[ModelInfo]:
        """The models SYNAPSE offers, agent models first."""
        with self._translating():
            response = await self._http.get(MODELS_PATH)
        return self._models(response)

    async def health(self) -> ServiceHealth:
        """SYNAPSE's backends and CORTEX, as /health reports them."""
        with self._translating():
            response = await self._http.get(HEALTH_PATH)
        return self._health(response)

    async def chat(self, model: str, messages: Messages, options: ChatOptions | None = None) -> ChatResponse:
        """One whole answer (`stream: false`)."""
        with self._translating():
            response = await self._http.post(CHAT_PATH, json=self._chat_body(model, messages, options, stream=False))
        return self._completion(response)

    async def stream_chat(
        self, model: str, messages: Messages, options: ChatOptions | None = None
    ) -> AsyncGenerator[ChatChunk, None]:
        """The answer chunk by chunk as SYNAPSE streams it; the first chunk carries the extras."""
        parser, body = ChunkParser(), self._chat_body(model, messages, options, stream=True)
        with self._translating():
            async with self._http.stream("POST", CHAT_PATH, json=body) as response:
                if response.status_code != 200:
                    await response.aread()
                    raise self._failure(response)
                async for line in response.aiter_lines():
                    for chunk in parser.feed(line):
                        yield chunk
