"""The last line of defence: an unexpected exception becomes a generic 500, and the connection stays usable."""

from __future__ import annotations

import contextlib
import json
import logging
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from synapse.api.errors import error_payload

log = logging.getLogger("synapse.api")


def _closing_chunk(path: str, media_type: str, message: str) -> bytes:
    """The last piece of a stream that failed midway, in the stream's own framing (empty when unknown)."""
    payload = error_payload(path, message, "internal_error", status=500)
    line = json.dumps(payload, separators=(",", ":")).encode()
    if media_type.startswith("text/event-stream"):
        return b"data: " + line + b"\n\ndata: [DONE]\n\n"
    if media_type.startswith("application/x-ndjson"):
        return line + b"\n"
    return b""


class CatchAll:
    """ASGI middleware: an exception that no handler took is logged with a short id and answered as a 500.

    The answer names only the id (never the exception's text, which may hold paths, prompts or secrets).
    A response already under way is finished with an error line in its framing, so the client sees a
    complete message and uvicorn keeps the keep-alive connection open instead of resetting it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = ended = False
        media_type = ""

        async def watched(message: Message) -> None:
            nonlocal started, ended, media_type
            if message["type"] == "http.response.start":
                started = True
                headers = dict(message.get("headers") or [])
                media_type = headers.get(b"content-type", b"").decode("latin-1").lower()
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                ended = True
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception as exc:
            error_id = uuid.uuid4().hex[:12]
            path = str(scope.get("path", ""))
            log.error("internal error %s on %s %s", error_id, scope.get("method"), path, exc_info=exc)
            if ended:
                return
            message = f"internal error (id {error_id}); the server log has the details under that id"
            # The client may be gone already; there is nobody left to tell then.
            with contextlib.suppress(Exception):
                if started:
                    chunk = _closing_chunk(path, media_type, message)
                    await send({"type": "http.response.body", "body": chunk, "more_body": False})
                else:
                    await _send_500(send, path, message)


async def _send_500(send: Send, path: str, message: str) -> None:
    body = json.dumps(error_payload(path, message, "internal_error", status=500)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 500, "headers": headers})
    await send({"type": "http.response.body", "body": body})
