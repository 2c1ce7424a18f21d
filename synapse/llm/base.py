"""The async interface that every generation backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence

from synapse.llm.errors import EmbeddingsNotSupportedError
from synapse.llm.models import (
    BackendHealth,
    BackendKind,
    ChatMessage,
    ChatResult,
    GenerationOptions,
    LoadedModel,
    ModelCard,
    ModelInfo,
    StreamDelta,
)
from synapse.llm.output import plan_output

#: Characters per token when a backend has no tokenizer; errs towards more tokens for Russian.
CHARS_PER_TOKEN = 3.0


def estimate_tokens(text: str) -> int:
    """A tokenizer-free token count that over- rather than under-estimates."""
    return int(len(text) / CHARS_PER_TOKEN) + 1


class LLMBackend(ABC):
    """Chat generation (full or streamed), health, models, and embeddings where the backend has them."""

    kind: BackendKind

    @abstractmethod
    def stream(
        self, messages: Sequence[ChatMessage], model: str, options: GenerationOptions
    ) -> AsyncIterator[StreamDelta]:
        """Deltas of the answer; the last has `done`, the finish reason, the tool calls and the token counts.

        Text comes in `content`; with `options.tools`, each call comes as `tool_call_deltas` once complete
        (first piece: index, id, name; then argument fragments), and again whole on the last delta.
        Closing the iterator early (client gone) stops the generation and frees the backend.
        """

    async def chat(self, messages: Sequence[ChatMessage], model: str, options: GenerationOptions) -> ChatResult:
        """The whole answer at once (the stream collected)."""
        parts: list[str] = []
        final = StreamDelta(done=True, finish_reason="stop")
        stream = self.stream(messages, model, options)
        try:
            async for delta in stream:
                if delta.content:
                    parts.append(delta.content)
                if delta.done:
                    final = delta
        finally:
            await stream.aclose()  # type: ignore[attr-defined]
        return ChatResult(
            content="".join(parts),
            model=model,
            finish_reason=final.finish_reason or "stop",
            prompt_tokens=final.prompt_tokens,
            completion_tokens=final.completion_tokens,
            tool_calls=final.tool_calls,
            warnings=self.warnings(model),
        )

    @abstractmethod
    async def health(self) -> BackendHealth:
        """The backend's state; never raises."""

    @abstractmethod
    async def list_models(self) -> list[ModelInfo]:
        """The models this backend serves; raises BackendUnavailableError when it is down."""

    async def embed(self, texts: Sequence[str], model: str, dimensions: int | None = None) -> list[list[float]]:
        """Embedding vectors, where the backend can compute them (`dimensions`: cut to that many, if it can)."""
        raise EmbeddingsNotSupportedError(f"the {self.kind} backend does not compute embeddings")

    async def loaded_models(self) -> list[LoadedModel]:
        """The models held in memory now (Ollama's /api/ps); never raises, empty when nothing is known."""
        return []

    async def model_card(self, model: str) -> ModelCard:
        """The model's chat template, default parameters, metadata and capabilities as far as known; never raises."""
        return ModelCard()

    def check_options(self, options: GenerationOptions) -> None:
        """Raise now what `stream` would raise for these tools and answer formats (the 422s), so that a
        streamed response can refuse them before it starts."""
        plan_output(options)

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` with the backend's tokenizer, else an estimate."""
        return estimate_tokens(text)

    def context_window(self, model: str) -> int:
        """How many tokens the model's context holds (prompt and answer together)."""
        return 4096

    def warnings(self, model: str) -> list[str]:
        """Warnings every answer from `model` carries (e.g. that it is a demo model)."""
        return []

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Connect or load what the backend needs; failures show in health, not here."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release threads, models and connections."""
