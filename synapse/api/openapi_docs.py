"""What the OpenAPI document says beyond the routes: each route's error answers and the API key schemes."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from synapse.api.auth import OPEN_PATHS
from synapse.config import SynapseSettings

_WHY = {
    400: "The request cannot be served (e.g. the question alone does not fit the model's context window).",
    401: "No API key, or a wrong one (only when SYNAPSE_API_KEYS is set).",
    404: "The model is not served by any backend.",
    413: "The body is larger than SYNAPSE_MAX_BODY_BYTES.",
    415: "The body is not sent as application/json.",
    422: "The body is not valid: a field, a limit (SYNAPSE_MAX_MESSAGES, SYNAPSE_MAX_TOKENS_LIMIT), text "
    "that is not valid Unicode, a tool_choice the tools cannot satisfy, or a JSON schema (tool parameters, "
    "response format) that constrained decoding cannot express (code unsupported_schema).",
    429: "Every generation slot and queue place is taken; retry after Retry-After seconds.",
    502: "The generation backend failed, or its answer is not the tool call or the JSON the request asked for "
    "(code structured_output).",
    503: "The generation backend is unavailable.",
}
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}}
Responses = dict[int | str, dict[str, Any]]


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class OpenAIError(BaseModel):
    """The error body under /v1 (OpenAI's shape)."""

    error: OpenAIErrorDetail


class OllamaError(BaseModel):
    """The error body under /api (Ollama's shape)."""

    error: str


def _errors(model: type[BaseModel], statuses: tuple[int, ...]) -> Responses:
    out: Responses = {}
    for status in statuses:
        entry: dict[str, Any] = {"model": model, "description": _WHY[status]}
        if status == 429:
            entry["headers"] = _RETRY_AFTER
        out[status] = entry
    return out


def openai_errors(*statuses: int) -> Responses:
    return _errors(OpenAIError, statuses)


def ollama_errors(*statuses: int) -> Responses:
    return _errors(OllamaError, statuses)


# OpenAPI before 3.2 has a text/event-stream schema describe one event (what schemathesis checks too).
_SSE_EVENT = {
    "type": "object",
    "required": ["data"],
    "properties": {
        "data": {"type": "string", "description": "A chat.completion.chunk or an error object as JSON, or [DONE]."},
        "event": {"type": "string"},
        "id": {"type": "string"},
        "retry": {"type": "integer"},
    },
}
_NDJSON_BODY = {"type": "string", "description": "One JSON object per line; the last has done: true."}


def streamed(media_type: str, what: str, answer: type[BaseModel] | None = None) -> Responses:
    """A 200 that is JSON (`answer` when given), or a stream of `media_type` when the request asks for one."""
    schema = _SSE_EVENT if media_type == "text/event-stream" else _NDJSON_BODY
    entry: dict[str, Any] = {"description": f"The answer; {what}.", "content": {media_type: {"schema": schema}}}
    if answer is not None:
        entry["model"] = answer
    return {200: entry}


#: A body route's own failures, by dialect (415 only under /v1: the Ollama routes read any body as JSON).
OPENAI_BODY = (401, 413, 415, 422)
OLLAMA_BODY = (401, 413, 422)
#: What a generation can add: no fit, no model, busy, backend failed or down.
GENERATION = (400, 404, 429, 502, 503)

_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "A key from SYNAPSE_API_KEYS."},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "A key from SYNAPSE_API_KEYS."},
}


#: Request fields whose upper bound is a setting, so the models cannot carry it.
_TOKEN_FIELDS = ("max_tokens", "max_completion_tokens", "num_predict")


def _bound(prop: dict[str, Any], key: str, value: int) -> None:
    """Set `key` on the property, or on its integer/array branch when it is nullable (anyOf)."""
    for branch in [prop, *prop.get("anyOf", [])]:
        if branch.get("type") in ("integer", "array"):
            branch[key] = value


def _document_limits(schema: dict[str, Any], settings: SynapseSettings) -> None:
    for component in schema.get("components", {}).get("schemas", {}).values():
        props = component.get("properties", {})
        for name in _TOKEN_FIELDS:
            if name in props:
                _bound(props[name], "maximum", settings.max_tokens_limit)
        if "messages" in props:
            _bound(props["messages"], "maxItems", settings.max_messages)


def _document_keys(schema: dict[str, Any]) -> None:
    schema.setdefault("components", {})["securitySchemes"] = _SCHEMES
    for path, operations in schema.get("paths", {}).items():
        if path in OPEN_PATHS:
            continue
        for operation in operations.values():
            operation["security"] = [{"bearer": []}, {"apiKey": []}]


def customize_openapi(app: FastAPI, settings: SynapseSettings) -> None:
    """Add what depends on the settings: the token and message limits, and the key schemes when keys are set."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        _document_limits(schema, settings)
        if settings.accepted_keys():
            _document_keys(schema)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
