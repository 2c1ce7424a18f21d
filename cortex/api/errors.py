"""Every error answers with {"error": {"code", "message", "hint"}} and the status of its class."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match

from synapse.errors import SynapseError, describe_invalid


class ErrorDetail(BaseModel):
    code: str
    message: str
    hint: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def error_response(
    status: int, code: str, message: str, hint: str | None, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    body = ErrorBody(error=ErrorDetail(code=code, message=message, hint=hint))
    headers = {**(headers or {}), **({"WWW-Authenticate": "Bearer"} if status == 401 else {})}
    return JSONResponse(status_code=status, content=body.model_dump(), headers=headers)


def error_response_of(exc: SynapseError) -> JSONResponse:
    return error_response(exc.status, exc.code, exc.message, exc.hint)


def allowed_methods(request: Request) -> str:
    """Every method some route of this path takes (Starlette's 405 names only the first route's), HEAD with GET."""
    routes = [route for route in request.app.router.routes if isinstance(route, BaseRoute)]
    methods = {
        method
        for method in _METHODS
        if any(route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes)
    }
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))


def install_error_handlers(app: FastAPI) -> None:
    async def synapse_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, SynapseError)
        return error_response_of(exc)

    async def validation_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        message = describe_invalid(list(exc.errors()))
        return error_response(422, "validation", message, "see GET /docs for the schema")

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = allowed_methods(request)
        return error_response(exc.status_code, code, str(exc.detail), "see GET /docs for the routes", headers)

    app.add_exception_handler(SynapseError, synapse_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)


_MEANINGS = {
    400: "a request the service cannot carry out (an unreadable or empty document, a failed step)",
    401: "missing or wrong API key (CORTEX_API_KEY)",
    404: "no such document, TRIZ parameter or principle",
    413: "the upload is over CORTEX_MAX_UPLOAD_MB, its text over CORTEX_MAX_TEXT_CHARS, or a JSON body over 1 MiB",
    409: "the store was built with another embedder, or the document is stored in another collection",
    415: "a file type other than .txt, .md, .pdf or .docx",
    422: "the request does not match the schema (a bad collection name too), or carries more than one file",
    500: "an internal error; the message carries an error id, the server log the details",
    503: "CORTEX, or the Ollama it needs, is not ready",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` of these error statuses, each with the {"error": ...} body."""
    return {status: {"model": ErrorBody, "description": _MEANINGS[status]} for status in statuses}
