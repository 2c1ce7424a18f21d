"""The one reader of SYNAPSE's `/v1/chat/completions` event stream, and of the error bodies of its answers."""

from __future__ import annotations

import json
from typing import Any

import httpx
from pydantic import BaseModel, Field

from synapse.client._errors import StreamError
from synapse.client._types import ChatChunk, TurnMeta, Usage


def detail_of(body: Any) -> str:
    """The message of an error body: OpenAI's `{"error": {"message"}}`, a plain `error`, or FastAPI's `detail`."""
    if isinstance(body, dict):
        error = body.get("error", body.get("detail"))
        if isinstance(error, dict):
            return str(error.get("message") or error)
        if error is not None:
            return str(error)
    return ""


def error_detail(response: httpx.Response) -> str:
    """What a (read) error response says, for a message: its JSON message, its text, or the reason phrase."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:300] or response.reason_phrase
    return detail_of(body) or response.reason_phrase


class ChunkParser:
    """Turns the lines of one server-sent event stream into chunks; an error event raises StreamError."""

    def __init__(self) -> None:
        self.done = False

    def feed(self, line: str) -> list[ChatChunk]:
        """The chunk this line carries, if any; lines after `[DONE]` are read and ignored."""
        # Callers read to the end rather than stop at [DONE]: an abandoned line iterator of an async
        # response is closed later from another task.
        if self.done or not line.startswith("data:"):
            return []
        data = line[5:].strip()
        if data == "[DONE]":
            self.done = True
            return []
        payload = json.loads(data)
        if "error" in payload:
            raise StreamError(detail_of(payload))
        return [ChatChunk.model_validate(payload)]


class StreamedAnswer(BaseModel):
    """A streamed answer put together chunk by chunk: the text so far, the extras, the usage, how it ended."""

    parts: list[str] = Field(default_factory=list)
    #: The extras of the first chunk (where SYNAPSE puts them); None until a chunk came.
    meta: TurnMeta | None = None
    usage: Usage | None = None
    finish_reason: str = "stop"

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def add(self, chunk: ChatChunk) -> str:
        """Take in one chunk; returns the piece of text it added (may be empty)."""
        if self.meta is None:
            self.meta = chunk.meta()
        if chunk.usage is not None:
            self.usage = chunk.usage
        self.finish_reason = chunk.finish_reason or self.finish_reason
        piece = chunk.text
        if piece:
            self.parts.append(piece)
        return piece
