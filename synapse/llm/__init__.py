"""Generation backends behind one async interface: Ollama and embedded llama.cpp."""

from synapse.llm.base import LLMBackend, estimate_tokens
from synapse.llm.errors import BackendUnavailableError, EmbeddingsNotSupportedError, LLMError, ModelNotFoundError
from synapse.llm.models import (
    BackendHealth,
    ChatMessage,
    ChatResult,
    FinishReason,
    GenerationOptions,
    ModelInfo,
    StreamDelta,
)
from synapse.llm.registry import Backends, ModelRole, build_backends
from synapse.llm.resolve import DEMO_WARNING, ResolvedModel, demo_gguf, exported_td010v2, resolve_gguf

__all__ = [
    "DEMO_WARNING",
    "BackendHealth",
    "BackendUnavailableError",
    "Backends",
    "ChatMessage",
    "ChatResult",
    "EmbeddingsNotSupportedError",
    "FinishReason",
    "GenerationOptions",
    "LLMBackend",
    "LLMError",
    "ModelInfo",
    "ModelNotFoundError",
    "ModelRole",
    "ResolvedModel",
    "StreamDelta",
    "build_backends",
    "demo_gguf",
    "estimate_tokens",
    "exported_td010v2",
    "resolve_gguf",
]
