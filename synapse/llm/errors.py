"""LLM backend errors: each names the problem and the fix, and maps to one HTTP status."""

from __future__ import annotations

from synapse.errors import SynapseError


class LLMError(SynapseError):
    """Base of the backend errors; `status` is the HTTP status the API answers with."""

    status = 502
    exit_code = 1


class BackendUnavailableError(LLMError):
    """The backend cannot be reached or has no model loaded."""

    status = 503


class ModelNotFoundError(LLMError):
    """The backend does not serve the requested model."""

    status = 404
    exit_code = 2


class EmbeddingsNotSupportedError(LLMError):
    """The backend cannot compute embeddings."""

    status = 400
    exit_code = 2


class UnsupportedSchemaError(LLMError):
    """A JSON schema (a tool's parameters or a response format) that constrained decoding cannot express."""

    status = 422
    exit_code = 2


class InvalidToolChoiceError(LLMError):
    """`tool_choice` asks for a tool call that the request's tools cannot give."""

    status = 422
    exit_code = 2


class StructuredOutputError(LLMError):
    """The model's answer is not the JSON or the tool call that the request asked for."""

    status = 502
