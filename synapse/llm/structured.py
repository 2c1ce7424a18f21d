"""Validation of JSON answers and tool-call arguments against their JSON schemas (the `jsonschema` package)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import jsonschema
from jsonschema.exceptions import SchemaError, best_match
from jsonschema.protocols import Validator

from synapse.llm.errors import StructuredOutputError, UnsupportedSchemaError
from synapse.llm.models import ResponseFormat

_ANY_OBJECT: dict[str, Any] = {"type": "object"}


@lru_cache(maxsize=128)
def _validator(schema_text: str) -> Validator:
    schema = json.loads(schema_text)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def validator(schema: Mapping[str, Any], where: str) -> Validator:
    """A validator for `schema`; a schema that is not valid JSON Schema is a 422 naming `where`."""
    try:
        return _validator(json.dumps(schema, sort_keys=True))
    except SchemaError as exc:
        path = "/".join(str(p) for p in exc.path)
        raise UnsupportedSchemaError(
            f"{where} is not a valid JSON schema{f' at {path}' if path else ''}: {exc.message}",
            "fix the schema (see https://json-schema.org)",
        ) from exc


def schema_of(fmt: ResponseFormat) -> dict[str, Any]:
    """The schema an answer in `fmt` must validate against."""
    return fmt.json_schema if fmt.json_schema is not None else _ANY_OBJECT


def first_error(schema: Mapping[str, Any], instance: Any, where: str) -> str | None:
    """Why `instance` does not validate against `schema` (path and reason), or None when it does."""
    error = best_match(validator(schema, where).iter_errors(instance))
    if error is None:
        return None
    return f"at {error.json_path}: {error.message}"


def validate_answer(text: str, fmt: ResponseFormat, *, truncated: bool = False) -> Any:
    """The JSON value of the answer `text`; raises StructuredOutputError when it is not JSON or does not match."""
    cut = " (the answer was cut off at max_tokens)" if truncated else ""
    hint = "raise max_tokens" if truncated else "retry, or simplify the schema"
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise StructuredOutputError(f"the model's answer is not valid JSON{cut}: {exc}", hint) from exc
    problem = first_error(schema_of(fmt), value, "response_format")
    if problem is not None:
        raise StructuredOutputError(f"the model's answer does not match the response format {problem}{cut}", hint)
    return value
