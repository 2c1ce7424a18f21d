"""User-facing errors: each names the problem and the fix.

The one error contract of the project: every error a user can meet is a `SynapseError` with a message, a
hint, the HTTP `status` a service answers with, the snake_case `code` of its JSON body and the CLI's
`exit_code`. The HTTP dialects that wrap them (OpenAI, Ollama, CORTEX) are described in docs/errors.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any


def code_of(class_name: str) -> str:
    """The snake_case code of an error class: DocumentNotFoundError -> document_not_found, LLMError -> llm."""
    name = class_name.removesuffix("Error") or class_name
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


class SynapseError(Exception):
    """Base for errors that reach the user as a short message plus a hint, never a traceback.

    A subclass gets its `code` from its name unless it sets one; `status` is inherited unless set.
    """

    status: int = 400
    code: str = "bad_request"
    exit_code: int = 2

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "code" not in cls.__dict__:
            cls.code = code_of(cls.__name__)

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class UnknownParameterError(SynapseError):
    """A TRIZ parameter given by number or name that does not exist."""

    status = 404

    def __init__(self, query: str, suggestions: list[str]) -> None:
        hint = (
            "did you mean: " + "; ".join(suggestions)
            if suggestions
            else "use a number 1-39 or a parameter name; `synapse triz parameters` lists them"
        )
        super().__init__(f"unknown TRIZ parameter: {query!r}", hint)
        self.query = query
        self.suggestions = suggestions


class UnknownPrincipleError(SynapseError):
    """A principle number outside 1..40."""

    status = 404

    def __init__(self, query: str) -> None:
        super().__init__(f"unknown TRIZ principle: {query!r}", "use a number from 1 to 40")


class InvalidProblemError(SynapseError):
    """A problem statement that cannot be analysed (empty, too long)."""

    status = 422


def _field(error: Mapping[str, Any]) -> str:
    return ".".join(str(part) for part in error.get("loc", ()) if part != "body")


def invalid_field(errors: Sequence[Mapping[str, Any]]) -> str | None:
    """The dotted path of the first field at fault in a request validation error (None: the body)."""
    return (_field(errors[0]) or None) if errors else None


def describe_invalid(errors: Sequence[Mapping[str, Any]], limit: int = 5) -> str:
    """One line for the validation errors of a request: `field: problem; ...` (the first `limit`)."""
    parts = [f"{_field(err) or 'body'}: {err.get('msg', 'invalid')}" for err in errors[:limit]]
    return "; ".join(parts) or "body: invalid"
