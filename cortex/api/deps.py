"""FastAPI dependencies: the service instance, the API key check, settings.

They are coroutines because they never block: FastAPI runs a plain `def` dependency in its thread
pool, three thread hand-offs per request that cost a naive query a twentieth of its time.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from cortex.errors import CortexError
from cortex.service import Cortex
from synapse.config import CortexSettings
from synapse.keys import KeyRing


class UnauthorizedError(CortexError):
    status = 401


async def get_settings(request: Request) -> CortexSettings:
    settings: CortexSettings = request.app.state.settings
    return settings


async def get_cortex(request: Request) -> Cortex:
    cortex: Cortex = request.app.state.cortex
    return cortex


_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False)
_bearer = HTTPBearer(auto_error=False)


def key_ring(settings: CortexSettings) -> KeyRing:
    """The keys that open CORTEX: CORTEX_API_KEY, or none (open) when it is empty."""
    return KeyRing([settings.api_key.get_secret_value()])


def unauthorized() -> UnauthorizedError:
    return UnauthorizedError(
        "missing or wrong API key", "send the key from CORTEX_API_KEY as X-API-Key or Authorization: Bearer"
    )


async def require_api_key(
    settings: Annotated[CortexSettings, Depends(get_settings)],
    header_key: Annotated[str | None, Depends(_api_key_header)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """With CORTEX_API_KEY set, every route but /health needs it (X-API-Key or Authorization: Bearer).

    The RequestGuard middleware already refused a wrong key before the body was read; this dependency
    declares the two schemes in the OpenAPI document and holds for routes mounted without the guard.
    """
    presented = {"x-api-key": header_key or "", "authorization": f"Bearer {bearer.credentials}" if bearer else ""}
    if not key_ring(settings).admits(presented):
        raise unauthorized()


CortexDep = Annotated[Cortex, Depends(get_cortex)]
SettingsDep = Annotated[CortexSettings, Depends(get_settings)]
