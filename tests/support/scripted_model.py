"""A backend whose "model" writes scripted text through the real output handling (tool-call parsing, JSON
checks), as the embedded backend feeds what llama.cpp generates; it also reports a card and a loaded model.

    backend = ScriptedModel(lambda messages, options: '<tool_call>\\n{"name": "f", "arguments": {}}\\n</tool_call>')
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Sequence

from synapse.llm import BackendHealth, ChatMessage, GenerationOptions, LLMBackend, ModelInfo, StreamDelta
from synapse.llm.models import LoadedModel, ModelCard
from synapse.llm.output import OutputCollector, plan_output

#: The model's whole answer to a conversation.
Writer = Callable[[list[ChatMessage], GenerationOptions], str]
MODEL = "scripted-qwen"
TEMPLATE = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
#: What the model reports reading for any prompt.
PROMPT_TOKENS = 57
_PIECE = re.compile(r"\s*\S+\s*")


class ScriptedModel(LLMBackend):
    """Writes `writer(messages, options)` piece by piece (a piece per token); `calls` keeps each request."""

    kind = "llamacpp"

    def __init__(self, writer: Writer, *, window: int = 4096) -> None:
        self.writer = writer
        self.window = window
        self.calls: list[tuple[list[ChatMessage], GenerationOptions]] = []

    @property
    def model_name(self) -> str:
        return MODEL

    async def stream(
        self, messages: Sequence[ChatMessage], model: str, options: GenerationOptions
    ) -> AsyncIterator[StreamDelta]:
        plan = plan_output(options)
        self.calls.append((list(messages), options))
        collector = OutputCollector(plan)
        pieces = _PIECE.findall(self.writer(list(messages), options))
        written = pieces[: options.max_tokens]
        for piece in written:
            for delta in collector.feed(piece):
                yield delta
        truncated = len(written) < len(pieces)
        for delta in collector.finish(truncated=truncated, prompt_tokens=PROMPT_TOKENS, completion_tokens=len(written)):
            yield delta

    async def health(self) -> BackendHealth:
        return BackendHealth(backend=self.kind, status="ok", models=[MODEL])

    async def list_models(self) -> list[ModelInfo]:
        return [
            ModelInfo(
                name=MODEL,
                backend=self.kind,
                context_window=self.window,
                size=98_000_000,
                family="qwen2",
                quantization="Q4_K_M",
            )
        ]

    async def loaded_models(self) -> list[LoadedModel]:
        return [LoadedModel(name=MODEL, size=98_000_000, context_length=self.window, family="qwen2")]

    async def model_card(self, model: str) -> ModelCard:
        return ModelCard(
            template=TEMPLATE,
            parameters={"num_ctx": [self.window], "stop": ["<|im_end|>"], "temperature": [0.7]},
            model_info={"general.architecture": "qwen2", "qwen2.context_length": 32768},
            capabilities=["completion", "tools"],
        )

    def context_window(self, model: str) -> int:
        return self.window

    def count_tokens(self, text: str) -> int:
        return len(text.split()) + 1
