"""Error bodies in the dialect of the route: OpenAI-style under /v1, Ollama-style under /api."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from synapse.errors import SynapseError, describe_invalid, invalid_field

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    503: "service_unavailable",
}


class ApiError(SynapseError):
    """An error a route raises on purpose: its status, code and headers are the request's, not the class's."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str,
        headers: dict[str, str] | None = None,
        *,
        param: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint)
        self.status = status
        self.code = code
        self.headers = headers or {}
        self.param = param


def is_ollama_path(path: str) -> bool:
    return path.startswith("/api/")


def error_payload(
    path: str, message: str, code: str, *, status: int = 400, hint: str | None = None, param: str | None = None
) -> dict[str, Any]:
    """The JSON error object a client of that dialect expects (`param`: the field at fault, OpenAI only)."""
    text = f"{message} ({hint})" if hint else message
    if is_ollama_path(path):
        return {"error": text}
    return {"error": {"message": text, "type": _TYPES.get(status, "api_error"), "param": param, "code": code}}


def error_body(path: str, message: str, code: str, *, status: int = 413, hint: str | None = None) -> bytes:
    return json.dumps(error_payload(path, message, code, status=status, hint=hint), ensure_ascii=False).encode()


def error_response(request: Request, error: ApiError) -> JSONResponse:
    """The error in the dialect of the request's route, with the error's status and headers."""
    payload = error_payload(
        request.url.path, error.message, error.code, status=error.status, hint=error.hint, param=error.param
    )
    return JSONResponse(payload, status_code=error.status, headers=error.headers)


def _step(value: Any, part: Any) -> tuple[bool, Any]:
    if isinstance(value, dict) and isinstance(part, str) and part in value:
        return True, value[part]
    if isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value):
        return True, value[part]
    return False, value


def request_field(errors: Sequence[Mapping[str, Any]], body: Any) -> str | None:
    """The dotted path of the first field at fault, as the client wrote it: the names Pydantic gives the
    branches of a union (`literal[...]`, a model's class name) are not in the body and are left out."""
    if not errors:
        return None
    loc = [part for part in errors[0].get("loc", ()) if part != "body"]
    kept: list[str] = []
    value = body
    for i, part in enumerate(loc):
        found, value = _step(value, part)
        # A missing field is not in the body either, but it is the field at fault.
        if found or (i == len(loc) - 1 and errors[0].get("type") == "missing"):
            kept.append(str(part))
    return ".".join(kept) or None


def install_error_handlers(app: FastAPI) -> None:
    """Every error leaves as JSON in the route's dialect, never as a traceback.

    Unexpected exceptions are not handled here: a handler for `Exception` runs in Starlette's outermost
    middleware, which re-raises after answering, and uvicorn then drops the keep-alive connection.
    `synapse.api.failsafe.CatchAll` answers them instead.
    """

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        message = f"invalid request: {describe_invalid(errors)}"
        field = request_field(errors, exc.body) if isinstance(exc.body, dict) else invalid_field(errors)
        return error_response(request, ApiError(422, message, "invalid_request", param=field))

    @app.exception_handler(SynapseError)
    async def _synapse(request: Request, exc: SynapseError) -> JSONResponse:
        if not isinstance(exc, ApiError):
            exc = ApiError(exc.status, exc.message, exc.code, hint=exc.hint)
        return error_response(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(
            request, ApiError(exc.status_code, str(exc.detail), "http_error", dict(exc.headers or {}))
        )
