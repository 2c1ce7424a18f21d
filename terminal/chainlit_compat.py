"""Every use the terminal makes of Chainlit's internals (checked against Chainlit 2.12), in one place.

Chainlit offers no public hooks for these; `tests/terminal/test_chainlit_compat.py` checks each assumption
and names the one that broke, so an upgrade that changes them fails there, not silently in production:

- `chainlit.server.app` is the FastAPI app; its routes (a catch-all page route last) are tried after routes
  put at the front of `app.router.routes`;
- its `user_middleware` holds exactly one Starlette `CORSMiddleware` (from `allow_origins`, with credentials),
  and Starlette builds the middleware stack anew when `middleware_stack` is None;
- `chainlit.server.sio.eio` is the engine.io server whose `cors_allowed_origins` decides socket origins
  (Chainlit passes `[]`, which turns the origin check off);
- `chainlit.server.login(request, response, form_data)` is the endpoint of `POST /login`; it raises a 401
  HTTPException when the password callback returns no user;
- `chainlit.auth.cookie` reads `CHAINLIT_COOKIE_SAMESITE` once, when imported, into `_cookie_samesite` and
  `_cookie_secure`, and its cookie functions read those module globals on each call;
- the session upload folder is `FILES_DIRECTORY` in both `chainlit.config` and `chainlit.server`.

Import this module only after `terminal.root.bind_chainlit_root()`: Chainlit reads its config when imported.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import chainlit.auth.cookie
import chainlit.config
import chainlit.server
from chainlit.auth import get_current_user
from chainlit.server import app, sio
from fastapi.routing import APIRoute
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp

from terminal.errors import TerminalError

__all__ = [
    "SAMESITE_ENV",
    "add_route_first",
    "app",
    "chainlit_login",
    "cookie_samesite",
    "current_user",
    "replace_cors",
    "restrict_socket_origins",
    "set_files_directory",
    "use_samesite",
]

#: Chainlit's setting of the login cookie's SameSite attribute (lax, strict or none; default lax).
SAMESITE_ENV = "CHAINLIT_COOKIE_SAMESITE"
#: The FastAPI dependency that yields the signed-in user (401 without a valid cookie or bearer token).
current_user = get_current_user
#: The endpoint of Chainlit's `POST /login`.
chainlit_login = chainlit.server.login


def add_route_first(path: str, endpoint: Callable[..., Any], methods: list[str]) -> None:
    """Add a route in front of Chainlit's (its catch-all page route, its own route of the same path), once."""
    routes = app.router.routes
    if any(isinstance(r, APIRoute) and r.path == path and r.endpoint is endpoint for r in routes):
        return
    app.add_api_route(path, endpoint, methods=methods, include_in_schema=False)
    routes.insert(0, routes.pop())


def replace_cors(policy: Callable[[ASGIApp, list[str]], ASGIApp], origins: list[str]) -> None:
    """Put `policy(app, origins)` where Chainlit's CORS middleware is (`allow_origins`, `*` by default, sent
    with credentials, so it echoes every Origin); once replaced, a second call replaces the policy."""
    stack = app.user_middleware
    classes: tuple[Any, ...] = (CORSMiddleware, policy)
    found = [i for i, m in enumerate(stack) if any(m.cls is cls for cls in classes)]
    if len(found) != 1:
        raise RuntimeError(f"expected one CORSMiddleware in Chainlit's app, found {len(found)}: {stack}")
    factory: Any = policy
    stack[found[0]] = Middleware(factory, list(origins))
    # Starlette builds the stack on the first request; a test client may have made one already.
    app.middleware_stack = None


def restrict_socket_origins(accepts: Callable[[str | None, dict[str, Any]], bool]) -> None:
    """Let engine.io accept a socket.io connection only from an origin `accepts(origin, environ)` allows."""
    sio.eio.cors_allowed_origins = accepts


def use_samesite(default: str) -> str:
    """Give Chainlit's login cookie `CHAINLIT_COOKIE_SAMESITE`, else `default`; returns the value in force.

    Chainlit reads the variable when `chainlit.auth.cookie` is first imported and defaults to lax; when
    something imported Chainlit before the terminal could set the variable (`chainlit run`), that import
    already happened, so the module's values are set here the way Chainlit computes them.
    """
    value = os.environ.get(SAMESITE_ENV, default).strip().lower()
    if value not in ("lax", "strict", "none"):
        raise TerminalError(f"{SAMESITE_ENV}={value!r} is not a SameSite value", "use strict, lax or none")
    cookie: Any = chainlit.auth.cookie
    cookie._cookie_samesite = value
    cookie._cookie_secure = value == "none"  # browsers drop SameSite=None cookies that are not Secure
    return value


def cookie_samesite() -> str:
    """The SameSite attribute Chainlit gives its login cookie in this process."""
    return str(chainlit.auth.cookie._cookie_samesite)


def set_files_directory(path: Path) -> None:
    """Chainlit's per-session upload folder (it deletes the whole folder when the server stops)."""
    chainlit.config.FILES_DIRECTORY = path
    chainlit.server.FILES_DIRECTORY = path  # type: ignore[attr-defined]
