"""API keys on every route except /health, checked before anything else runs."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from synapse.api.errors import error_body
from synapse.keys import KeyRing, presented_keys

OPEN_PATHS = frozenset({"/health"})


class ApiKeyAuth:
    """ASGI middleware: without a valid key (bearer or X-API-Key) the answer is 401 in the route's dialect."""

    def __init__(self, app: ASGIApp, keys: set[str]) -> None:
        self.app = app
        self.ring = KeyRing(keys)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if self.ring.admits(headers):
            await self.app(scope, receive, send)
            return
        message = "invalid API key" if presented_keys(headers) else "missing API key"
        body = error_body(
            str(scope.get("path", "")),
            message,
            "invalid_api_key",
            status=401,
            hint="send 'Authorization: Bearer KEY' or 'X-API-Key: KEY' with a key from SYNAPSE_API_KEYS",
        )
        raw = [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")]
        await send({"type": "http.response.start", "status": 401, "headers": raw})
        await send({"type": "http.response.body", "body": body})
