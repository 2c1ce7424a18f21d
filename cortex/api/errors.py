"""Every error answers with {"error": {"code", "message", "hint"}} and the status of its class."""

from __future__ import annotations

import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from cortex.errors import CortexError
from synapse.errors import InvalidProblemError, SynapseError, UnknownParameterError, UnknownPrincipleError


class ErrorDetail(BaseModel):
    code: str
    message: str
    hint: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


def error_code(exc: CortexError) -> str:
    """CamelCase class name to snake_case without the Error suffix: DocumentNotFoundError -> document_not_found."""
    name = type(exc).__name__.removesuffix("Error") or "cortex"
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def error_response(status: int, code: str, message: str, hint: str | None) -> JSONResponse:
    body = ErrorBody(error=ErrorDetail(code=code, message=message, hint=hint))
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(status_code=status, content=body.model_dump(), headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    async def cortex_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, CortexError)
        return error_response(exc.status, error_code(exc), exc.message, exc.hint)

    async def synapse_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, SynapseError)
        if isinstance(exc, UnknownParameterError | UnknownPrincipleError):
            status, code = 404, "unknown_" + ("parameter" if isinstance(exc, UnknownParameterError) else "principle")
        else:
            status, code = (422, "invalid_problem") if isinstance(exc, InvalidProblemError) else (400, "bad_request")
        return error_response(status, code, exc.message, exc.hint)

    async def validation_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        parts = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else str(err.get("msg", "invalid")))
        return error_response(422, "validation", "; ".join(parts) or "invalid request", "see GET /docs for the schema")

    async def http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http")
        return error_response(exc.status_code, code, str(exc.detail), "see GET /docs for the routes")

    app.add_exception_handler(CortexError, cortex_error)
    app.add_exception_handler(SynapseError, synapse_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
