"""ASGI wrappers around the app: HEAD answered like GET, and the last resort for unexpected errors."""

from __future__ import annotations

import logging
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cortex.api.errors import error_response

log = logging.getLogger("cortex.api")


class HeadAsGet:
    """HEAD on any route runs its GET and sends the headers only (FastAPI routes answer HEAD with 405)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)


class InternalErrors:
    """An exception no handler knows becomes a 500 with a generic message and an error id; the id and
    the traceback go to the log. The exception's text never reaches the client."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            error_id = uuid.uuid4().hex[:12]
            log.exception("internal error %s on %s %s", error_id, scope.get("method"), scope.get("path"))
            if started:
                raise  # too late for an error body; the server closes the connection
            response = error_response(
                500,
                "internal",
                f"CORTEX failed on this request (error id {error_id})",
                "the CORTEX log has the details under this id; try again, or report it with the id",
            )
            await response(scope, receive, send)
