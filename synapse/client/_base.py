"""What the sync and the async client share: the connection settings, request bodies, answers and errors."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict

from synapse.client._errors import ResponseError, UnreachableError
from synapse.client._sse import error_detail
from synapse.client._types import ChatResponse, ModelInfo, RagMode, ServiceHealth

DEFAULT_HOST = "http://127.0.0.1:8000"
CHAT_PATH = "/v1/chat/completions"
MODELS_PATH = "/v1/models"
HEALTH_PATH = "/health"
# Connecting fails fast; reading waits as long as a slow CPU model needs for its next token.
DEFAULT_TIMEOUT = httpx.Timeout(300.0, connect=5.0)

Messages = Sequence[Mapping[str, Any]]
HttpT = TypeVar("HttpT", httpx.Client, httpx.AsyncClient)


class ChatOptions(BaseModel):
    """A chat request's settings besides the model and the messages; None leaves a setting to SYNAPSE."""

    model_config = ConfigDict(extra="forbid")

    rag: RagMode | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: str | list[str] | None = None
    seed: int | None = None
    #: The conversation's id; SYNAPSE keys per-conversation state on it.
    user: str | None = None

    def body(self) -> dict[str, Any]:
        """The request's fields as SYNAPSE reads them (`rag` is an object there)."""
        out = self.model_dump(exclude_none=True, exclude={"rag", "user"})
        if self.rag is not None:
            out["rag"] = {"mode": self.rag}
        if self.user:
            out["user"] = self.user
        return out


class BaseClient(Generic[HttpT]):
    """One httpx client (sync or async) pointed at SYNAPSE, with its key; failures become ClientErrors.

    `httpx_kwargs` go to httpx as they are (limits, transport, verify...).
    """

    _http_type: type[HttpT]

    def __init__(
        self,
        host: str = DEFAULT_HOST,
        api_key: str = "",
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        **httpx_kwargs: Any,
    ) -> None:
        self.host = host.rstrip("/")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http: HttpT = self._http_type(base_url=self.host, headers=headers, timeout=timeout, **httpx_kwargs)

    @contextmanager
    def _translating(self) -> Iterator[None]:
        """httpx's failures (refused, timed out, cut off midway) as UnreachableError."""
        try:
            yield
        except httpx.HTTPError as exc:
            raise UnreachableError(self.host, str(exc)) from exc

    @staticmethod
    def _chat_body(model: str, messages: Messages, options: ChatOptions | None, *, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"model": model, "messages": [dict(m) for m in messages], "stream": stream}
        return {**body, **(options or ChatOptions()).body()}

    @staticmethod
    def _failure(response: httpx.Response) -> ResponseError:
        """The error a (read) non-200 answer means."""
        try:
            retry_after: float | None = float(response.headers["Retry-After"])
        except (KeyError, ValueError):
            retry_after = None  # absent, or an HTTP date: callers wait their own default
        return ResponseError(response.status_code, error_detail(response), retry_after)

    @classmethod
    def _json(cls, response: httpx.Response) -> dict[str, Any]:
        if response.status_code != 200:
            raise cls._failure(response)
        body: dict[str, Any] = response.json()
        return body

    @classmethod
    def _health(cls, response: httpx.Response) -> ServiceHealth:
        if response.status_code not in (200, 503):  # 503: no backend answers, the body still tells the rest
            raise cls._failure(response)
        return ServiceHealth.model_validate(response.json())

    @classmethod
    def _models(cls, response: httpx.Response) -> list[ModelInfo]:
        return [ModelInfo.model_validate(item) for item in cls._json(response).get("data", [])]

    @classmethod
    def _completion(cls, response: httpx.Response) -> ChatResponse:
        return ChatResponse.model_validate(cls._json(response))
