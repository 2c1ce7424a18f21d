"""Generation backends behind one async interface: Ollama and embedded llama.cpp."""

# First, so that its wait policy precedes every lazy `import llama_cpp` below this package (libgomp reads it once).
import synapse.llm.openmp  # noqa: F401
from synapse.llm.base import LLMBackend, estimate_tokens
from synapse.llm.errors import (
    BackendUnavailableError,
    EmbeddingsNotSupportedError,
    InvalidToolChoiceError,
    LLMError,
    ModelNotFoundError,
    StructuredOutputError,
    UnsupportedSchemaError,
)
from synapse.llm.models import (
    BackendHealth,
    ChatMessage,
    ChatResult,
    FinishReason,
    GenerationOptions,
    LoadedModel,
    ModelCard,
    ModelInfo,
    ResponseFormat,
    StreamDelta,
    ToolCall,
    ToolCallDelta,
    ToolChoice,
    ToolSpec,
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
    "InvalidToolChoiceError",
    "LLMBackend",
    "LLMError",
    "LoadedModel",
    "ModelCard",
    "ModelInfo",
    "ModelNotFoundError",
    "ModelRole",
    "ResolvedModel",
    "ResponseFormat",
    "StreamDelta",
    "StructuredOutputError",
    "ToolCall",
    "ToolCallDelta",
    "ToolChoice",
    "ToolSpec",
    "UnsupportedSchemaError",
    "build_backends",
    "demo_gguf",
    "estimate_tokens",
    "exported_td010v2",
    "resolve_gguf",
]
