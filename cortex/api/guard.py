"""The checks that must come before a request body is read: the API key and the body's size.

FastAPI parses a multipart body (spooling it to a temporary file) before any dependency runs, so a key
check or a size check in a dependency comes after the whole upload has been received: a chunked upload
with a wrong key spooled 290 MB before its 401. This ASGI middleware answers 401 without reading the
body, refuses a declared Content-Length over the limit at once, and counts a body as it streams: the
chunk that would pass the limit is never handed to FastAPI, and the request is answered with a 413.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cortex.api.deps import key_ring, unauthorized
from cortex.api.errors import error_response, error_response_of
from cortex.errors import DocumentTooLargeError
from synapse.config import CortexSettings

UPLOAD_PATH = "/documents"
# Boundaries and the small form fields (kind, tags) around the file.
MULTIPART_SLACK = 64 * 1024
# The JSON routes (query, TRIZ analysis) take a few kilobytes; their models bound every field far below.
MAX_JSON_BYTES = 2**20


class _BodyTooLarge(Exception):
    """Raised into FastAPI's body reading; the response it makes of it is replaced by the 413."""


@dataclass
class _Exchange:
    received: int = 0
    tripped: bool = False
    started: bool = False


class RequestGuard:
    """Refuses a wrong key (401) and an oversized body (413) before FastAPI reads the body."""

    def __init__(self, app: ASGIApp, settings: CortexSettings, open_paths: frozenset[str]) -> None:
        self.app, self.settings, self.open_paths = app, settings, open_paths
        self.upload_limit = int(settings.max_upload_mb * 2**20) + MULTIPART_SLACK

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if scope["path"] not in self.open_paths and not key_ring(self.settings).admits(headers):
            await error_response_of(unauthorized())(scope, receive, send)
            return
        limit = self.upload_limit if _is_upload(scope) else MAX_JSON_BYTES
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await self._too_large(scope, int(declared))(scope, receive, send)
            return
        await self._counted(scope, receive, send, limit)

    async def _counted(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        state = _Exchange()

        async def counting_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                state.received += len(message.get("body", b""))
                if state.received > limit:
                    state.tripped = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            if state.tripped and not state.started:
                return  # the app's answer to the cut body (a 400); the 413 follows
            state.started = state.started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except _BodyTooLarge:
            pass
        except Exception:
            if not state.tripped:
                raise
        if state.tripped and not state.started:
            await self._too_large(scope, None)(scope, receive, send)

    def _too_large(self, scope: Scope, size: int | None) -> ASGIApp:
        if _is_upload(scope):
            mb = self.settings.max_upload_mb
            exc = DocumentTooLargeError(
                f"the upload is {_size(size)}over the {mb:g} MiB limit", "split the file, or raise CORTEX_MAX_UPLOAD_MB"
            )
            return error_response_of(exc)
        return error_response(
            413,
            "request_too_large",
            f"the request body is {_size(size)}over the {MAX_JSON_BYTES / 2**20:g} MiB limit of JSON requests",
            "send a shorter request; documents go to POST /documents",
        )


def _is_upload(scope: Scope) -> bool:
    return str(scope["path"]).rstrip("/") == UPLOAD_PATH


def _size(size: int | None) -> str:
    return f"{size / 2**20:.1f} MiB, " if size is not None else ""
