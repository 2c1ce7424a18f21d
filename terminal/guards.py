"""Protection of the terminal's HTTP side: allowed origins (CORS, socket.io, unsafe methods), login throttling."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Response
from fastapi.security import OAuth2PasswordRequestForm

from synapse.config import TerminalSettings
from terminal.chainlit_compat import (
    add_route_first,
    chainlit_login,
    replace_cors,
    restrict_socket_origins,
    use_samesite,
)
from terminal.origins import OriginPolicy, origin_allowed, own_origins
from terminal.throttle import LoginThrottle, login_keys

#: One table per process: every sign-in of this terminal's server counts against it.
THROTTLE = LoginThrottle()


async def throttled_login(
    request: Request,
    response: Response,
    form_data: Annotated[OAuth2PasswordRequestForm, Depends()],
) -> Response:
    """Chainlit's `POST /login`, refused with 429 while the user name or the address must wait."""
    keys = login_keys(form_data.username, request.client.host if request.client else None)
    wait = THROTTLE.retry_after(keys)
    if wait:
        raise HTTPException(
            status_code=429,
            detail=f"too many failed sign-ins; try again in {wait} s",
            headers={"Retry-After": str(wait)},
        )
    # Counted before the password is checked, so parallel attempts cannot all pass the check above.
    THROTTLE.failed(keys)
    answer: Response = await chainlit_login(request, response, form_data)  # 401 on a wrong login
    THROTTLE.succeeded(keys)
    return answer


def install_guards(settings: TerminalSettings) -> list[str]:
    """Install the origin policy, the socket check, the throttled login and the strict cookie (idempotent)."""
    allowed = own_origins(settings)
    replace_cors(OriginPolicy, allowed)
    accepted = frozenset(allowed)

    def socket_origin(origin: str | None, environ: dict[str, Any]) -> bool:
        return origin is not None and origin_allowed(origin, str(environ.get("HTTP_HOST", "")), accepted)

    restrict_socket_origins(socket_origin)
    add_route_first("/login", throttled_login, ["POST"])
    # The cookie then stays off requests that other sites start (links, forms); other ports of this host
    # count as the same site, which is what the origin policy is for.
    use_samesite("strict")
    return allowed
