"""API keys on every route except /health, checked before anything else runs."""

from __future__ import annotations

import hmac

from starlette.types import ASGIApp, Receive, Scope, Send

from synapse.api.errors import error_body

OPEN_PATHS = frozenset({"/health"})


def _presented(headers: dict[bytes, bytes]) -> str | None:
    auth = headers.get(b"authorization", b"").decode("latin-1").strip()
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    key = headers.get(b"x-api-key")
    return key.decode("latin-1").strip() if key is not None else None


class ApiKeyAuth:
    """ASGI middleware: without a valid key (bearer or X-API-Key) the answer is 401 in the route's dialect."""

    def __init__(self, app: ASGIApp, keys: set[str]) -> None:
        self.app = app
        self.keys = [k.encode() for k in keys]

    def _valid(self, presented: str) -> bool:
        given = presented.encode()
        # Compare against every key in constant time, so timing does not reveal a matching prefix.
        return any([hmac.compare_digest(given, key) for key in self.keys])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.keys or scope.get("path") in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        presented = _presented(dict(scope.get("headers") or []))
        if presented and self._valid(presented):
            await self.app(scope, receive, send)
            return
        message = "invalid API key" if presented else "missing API key"
        body = error_body(
            str(scope.get("path", "")),
            message,
            "invalid_api_key",
            status=401,
            hint="send 'Authorization: Bearer KEY' or 'X-API-Key: KEY' with a key from SYNAPSE_API_KEYS",
        )
        headers = [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")]
        await send({"type": "http.response.start", "status": 401, "headers": headers})
        await send({"type": "http.response.body", "body": body})
