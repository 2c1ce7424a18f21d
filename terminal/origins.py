"""Which browser origins may use the terminal with its login cookie, and the middleware that enforces it.

The cookie's SameSite attribute cannot keep other pages on the same machine out: browsers count every port of
`localhost` (or of one IP address) as the same site, so a page on another local port gets the cookie sent
along. What keeps it out is the Origin header: CORS answers only the allowed origins (so a foreign page cannot
read an answer or pass a preflight), and state-changing requests from a foreign page are refused outright.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from synapse.config import TerminalSettings

_LOOPBACK = ("127.0.0.1", "localhost", "0.0.0.0", "::", "::1")
#: Methods a page may send cross-origin without a preflight (a form, an untyped body) that change something.
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_METHODS = "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"
_CORS_HEADERS = ("access-control-allow-origin", "access-control-allow-credentials", "access-control-expose-headers")


def own_origins(settings: TerminalSettings) -> list[str]:
    """The terminal's URL as browsers send it in Origin (127.0.0.1 and localhost forms), then the extra ones."""
    host = settings.host.strip().strip("[]").lower()
    hosts = ["127.0.0.1", "localhost"] if host in _LOOPBACK else [f"[{host}]" if ":" in host else host]
    if host in ("::", "::1"):
        hosts.append("[::1]")
    suffix = "" if settings.port == 80 else f":{settings.port}"
    return list(dict.fromkeys([*(f"http://{name}{suffix}" for name in hosts), *settings.extra_origins()]))


def same_host(origin: str, host_header: str) -> bool:
    """Whether the Origin names the host:port the request was sent to (a page of the terminal itself)."""
    asked, sent_to = urlsplit(origin), urlsplit("//" + host_header.strip())
    default = {"http": 80, "https": 443}.get(asked.scheme)
    try:
        return (
            default is not None
            and bool(asked.hostname)
            and asked.hostname == sent_to.hostname
            and (asked.port or default) == (sent_to.port or default)
        )
    except ValueError:  # a port that is not a number
        return False


def origin_allowed(origin: str, host_header: str, allowed: frozenset[str]) -> bool:
    """An allowed origin, or a page of the host the request was sent to (the terminal itself, at any address)."""
    return origin.lower() in allowed or same_host(origin.lower(), host_header)


class OriginPolicy:
    """CORS for the allowed origins only, and no state-changing request from any other page.

    Replaces Chainlit's CORS middleware, which echoes every Origin with `Access-Control-Allow-Credentials`.
    Same-origin requests need no CORS headers; POST/PUT/PATCH/DELETE are also accepted from the host the
    request was sent to, so the terminal's own pages work at any address it is reached by (a LAN IP).
    """

    def __init__(self, app: ASGIApp, allowed: list[str]) -> None:
        self.app = app
        self.allowed = frozenset(origin.lower() for origin in allowed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is None:
            await self.app(scope, receive, send)
            return
        listed = origin.lower() in self.allowed
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await self._preflight(send, origin, listed, headers)
        elif scope["method"] in _UNSAFE and not origin_allowed(origin, headers.get("host", ""), self.allowed):
            await _refuse(send, f"origin {origin} may not use the Neuro-Terminal")
        else:
            await self.app(scope, receive, _answer_cors(send, origin, listed))

    async def _preflight(self, send: Send, origin: str, listed: bool, headers: Headers) -> None:
        if not listed:
            await _refuse(send, f"origin {origin} may not call the Neuro-Terminal from a browser")
            return
        granted = {
            "access-control-allow-origin": origin,
            "access-control-allow-credentials": "true",
            "access-control-allow-methods": _METHODS,
            "access-control-allow-headers": headers.get("access-control-request-headers", ""),
            "access-control-max-age": "600",
            "vary": "Origin",
        }
        await _send(send, 200, b"OK", "text/plain; charset=utf-8", granted)


def _answer_cors(send: Send, origin: str, listed: bool) -> Send:
    """Send with the CORS headers set for an allowed origin, and any (the socket server's) removed for others."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            # Not MutableHeaders' delete: it misses names not sent in lower case (engine.io sends them so).
            kept = [(k, v) for k, v in message.get("headers", []) if k.decode("latin-1").lower() not in _CORS_HEADERS]
            out = MutableHeaders(raw=kept)
            if listed:
                out["access-control-allow-origin"] = origin
                out["access-control-allow-credentials"] = "true"
            out.add_vary_header("Origin")
            message["headers"] = out.raw
        await send(message)

    return wrapped


async def _refuse(send: Send, detail: str) -> None:
    # Chainlit's error shape ({"detail": ...}), naming the setting that would allow the origin; no CORS headers.
    body = json.dumps({"detail": f"{detail}; if it is yours, add it to TERMINAL_ALLOWED_ORIGINS"}).encode()
    await _send(send, 403, body, "application/json", {"vary": "Origin"})


async def _send(send: Send, status: int, body: bytes, content_type: str, extra: dict[str, str]) -> None:
    headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
    headers += [(name.encode("latin-1"), value.encode("latin-1")) for name, value in extra.items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
