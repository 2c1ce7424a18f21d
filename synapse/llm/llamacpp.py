"""Embedded generation with llama.cpp: one loaded GGUF, up to SYNAPSE_PARALLEL requests decoded in one batch."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from synapse.config import SynapseSettings
from synapse.errors import SynapseError
from synapse.llm.base import LLMBackend
from synapse.llm.errors import BackendUnavailableError, LLMError, ModelNotFoundError
from synapse.llm.gguf_card import file_type_name, gguf_card
from synapse.llm.grammars import grammar_for
from synapse.llm.llamacpp_prompt import Loaded, load_model, sampler_spec
from synapse.llm.models import (
    BackendHealth,
    ChatMessage,
    GenerationOptions,
    LoadedModel,
    ModelCard,
    ModelInfo,
    StreamDelta,
    ToolSpec,
)
from synapse.llm.output import OutputCollector, plan_output
from synapse.llm.resolve import DEMO_WARNING, ResolvedModel, resolve_gguf
from synapse.llm.sampling import FALLBACK, Sampling

log = logging.getLogger("synapse.llm")

#: Sequences decoded together when nothing says otherwise (SYNAPSE_PARALLEL), as Ollama's OLLAMA_NUM_PARALLEL.
DEFAULT_PARALLEL = 4


@dataclass(frozen=True)
class EmbeddedConfig:
    """What the embedded backend loads and how: the GGUF (None: discover it), the context of each sequence,
    how many sequences run at once, CPU threads (0: half the cores, all for batches) and GPU layers (-1: all)."""

    gguf: Path | None = None
    n_ctx: int = 4096
    parallel: int = DEFAULT_PARALLEL
    #: Contexts at most over the base, one per adapter in use (SYNAPSE_ADAPTER_CONTEXTS).
    contexts: int = 4
    n_threads: int = 0
    gpu_layers: int = -1
    data_dir: Path | None = None
    #: LoRA GGUFs of the same base, each served as a model of its own name (the agent profiles' adapters).
    adapters: tuple[tuple[str, Path], ...] = ()


def embedded_config(settings: SynapseSettings, adapters: Sequence[tuple[str, Path]] = ()) -> EmbeddedConfig:
    """The embedded backend as SYNAPSE's settings describe it, with the profiles' LoRAs."""
    return EmbeddedConfig(
        gguf=settings.gguf,
        n_ctx=settings.n_ctx,
        parallel=settings.parallel,
        contexts=settings.adapter_contexts,
        n_threads=settings.n_threads,
        gpu_layers=settings.gpu_layers,
        adapters=tuple(adapters),
    )


def served_models(resolved: ResolvedModel, adapters: Sequence[tuple[str, Path]]) -> dict[str, str | None]:
    """Each served model name and the LoRA it decodes with (None: the bare base).

    The resolved model keeps its name (with its own LoRA when it has one); each adapter is served under its
    name; when any LoRA is loaded, the bare base is served too, under its file's name."""
    served: dict[str, str | None] = {resolved.name: resolved.name if resolved.lora else None}
    for name, _ in adapters:
        served.setdefault(name, name)
    if resolved.lora is not None or adapters:
        served.setdefault(resolved.path.stem.lower(), None)
    return served


def lora_files(resolved: ResolvedModel, adapters: Sequence[tuple[str, Path]]) -> tuple[tuple[str, Path], ...]:
    """Every LoRA to load, by the name `served_models` gives it."""
    own = ((resolved.name, resolved.lora),) if resolved.lora is not None else ()
    return own + tuple((n, p) for n, p in adapters if n != resolved.name)


class LlamaCppBackend(LLMBackend):
    """llama.cpp in process; a batch engine thread decodes every running request, the event loop stays free."""

    kind = "llamacpp"

    def __init__(self, config: EmbeddedConfig | None = None, *, resolved: ResolvedModel | None = None) -> None:
        self.config = config or EmbeddedConfig()
        self.resolved = resolved
        self._loaded: Loaded | None = None
        #: Served model name -> the LoRA it decodes with (None: the bare base); set once loaded.
        self.served: dict[str, str | None] = {}
        #: The loaded model's sampling defaults, for what a request leaves open.
        self.sampling: Sampling = FALLBACK
        self._error = "the embedded model is not loaded yet"
        self._start_lock = asyncio.Lock()

    # ---- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        async with self._start_lock:
            if self._loaded is not None:
                return
            try:
                if self.resolved is None:
                    self.resolved = resolve_gguf(self.config.gguf, self.config.data_dir)
                loras = lora_files(self.resolved, self.config.adapters)
                self._loaded = await asyncio.to_thread(load_model, self.resolved, self.config, loras)
            except SynapseError as exc:
                self._error = str(exc)
                log.error("embedded backend unavailable: %s", exc)
                return
            except Exception as exc:  # a broken GGUF or a missing llama_cpp: report, keep serving the rest
                self._error = f"cannot load {self.resolved.path if self.resolved else 'the GGUF'}: {exc}"
                log.error("embedded backend unavailable: %s", self._error)
                return
            self.sampling = self._loaded.sampling
            resolved = self.resolved
            self.served = served_models(resolved, self.config.adapters)
            if len(self.served) > 1:
                log.info("embedded backend serves %s from one base", ", ".join(self.served))
            if resolved.demo:
                log.warning("embedded backend: %s (%s); %s", resolved.name, resolved.path, DEMO_WARNING)
            else:
                log.info("embedded backend: %s from %s (%s)", resolved.name, resolved.path, resolved.origin)

    async def aclose(self) -> None:
        if self._loaded is not None:
            loaded, self._loaded = self._loaded, None
            await asyncio.to_thread(loaded.engine.close)
            self._error = "the embedded backend is closed"

    # ---- information -----------------------------------------------------------------------------

    @property
    def model_name(self) -> str | None:
        """The name the loaded model is served under."""
        return self.resolved.name if self.resolved is not None and self._loaded is not None else None

    @property
    def base_model_name(self) -> str | None:
        """The name the bare base is served under (the resolved model's own when no LoRA is loaded)."""
        if self.model_name is None:
            return None
        return next((name for name, lora in self.served.items() if lora is None), self.model_name)

    @property
    def completed(self) -> int:
        """Generations finished (for the health view and tests)."""
        return self._loaded.engine.completed if self._loaded is not None else 0

    @property
    def cancelled(self) -> int:
        """Generations stopped early because their client went away."""
        return self._loaded.engine.cancelled if self._loaded is not None else 0

    @property
    def slots(self) -> tuple[int, int]:
        """Sequences decoding now, and how many may (SYNAPSE_PARALLEL)."""
        if self._loaded is None:
            return 0, self.config.parallel
        return self._loaded.engine.slots_in_use, self._loaded.native.n_seq

    async def health(self) -> BackendHealth:
        if self._loaded is None or self.resolved is None:
            return BackendHealth(backend="llamacpp", status="down", detail=self._error)
        in_use, total = self.slots
        return BackendHealth(
            backend="llamacpp",
            status="ok",
            detail=f"{self.resolved.path} ({self.resolved.origin})",
            models=list(self.served),
            demo=self.resolved.demo,
            slots=total,
            slots_in_use=in_use,
            contexts=self._loaded.native.n_lanes,
        )

    async def list_models(self) -> list[ModelInfo]:
        resolved = self._require()
        loaded = self._need()
        base_size = resolved.path.stat().st_size
        loras = dict(lora_files(resolved, self.config.adapters))
        return [
            ModelInfo(
                name=name,
                backend="llamacpp",
                context_window=loaded.native.n_ctx_seq,
                size=base_size + (loras[lora].stat().st_size if lora is not None else 0),
                family=loaded.metadata.get("general.architecture"),
                quantization=file_type_name(loaded.metadata.get("general.file_type")),
                demo=resolved.demo,
                path=str(loras[lora] if lora is not None else resolved.path),
            )
            for name, lora in self.served.items()
        ]

    async def loaded_models(self) -> list[LoadedModel]:
        if self._loaded is None or self.resolved is None:
            return []
        in_use, total = self.slots
        # The model stays loaded while the server runs; the GPU share is not measured (size_vram 0).
        return [
            LoadedModel(
                name=info.name,
                size=info.size or 0,
                context_length=info.context_window,
                family=info.family,
                quantization=info.quantization,
                slots=total,
                slots_in_use=in_use,
            )
            for info in await self.list_models()
        ]

    async def model_card(self, model: str) -> ModelCard:
        if self._loaded is None or self.resolved is None or model not in self.served:
            return ModelCard()
        loaded = self._loaded
        card = gguf_card(
            loaded.metadata,
            template=loaded.template_text,
            n_ctx=loaded.native.n_ctx_seq,
            stops=[loaded.eos_text] if loaded.eos_text else [],
            n_params=loaded.native.n_params(),
        )
        card.parameters.update({k: [v] for k, v in self.sampling.model_dump(exclude_none=True).items()})
        return card

    def render_prompt(self, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec] = ()) -> str:
        """The prompt text the model's chat template makes of `messages` and `tools`."""
        return self._need().template.render(messages, tools).text

    def check_options(self, options: GenerationOptions) -> None:
        grammar_for(plan_output(options))

    def count_tokens(self, text: str) -> int:
        if self._loaded is None:
            return super().count_tokens(text)
        return len(self._loaded.native.tokenize(text, add_special=False, parse_special=False))

    def context_window(self, model: str) -> int:
        return self._loaded.native.n_ctx_seq if self._loaded is not None else self.config.n_ctx

    def warnings(self, model: str) -> list[str]:
        return [DEMO_WARNING] if self.resolved is not None and self.resolved.demo else []

    def _require(self, model: str | None = None) -> ResolvedModel:
        if self._loaded is None or self.resolved is None:
            raise BackendUnavailableError(
                f"the embedded llama.cpp backend is down: {self._error}",
                "set SYNAPSE_GGUF to a .gguf file, or SYNAPSE_BACKEND=ollama with a running Ollama",
            )
        if model is not None and model not in self.served:
            raise ModelNotFoundError(
                f"the embedded backend serves {', '.join(map(repr, self.served))}, not {model!r}",
                "use a name from GET /v1/models",
            )
        return self.resolved

    def _need(self) -> Loaded:
        self._require()
        assert self._loaded is not None
        return self._loaded

    # ---- generation ----------------------------------------------------------------------------

    async def stream(
        self, messages: Sequence[ChatMessage], model: str, options: GenerationOptions
    ) -> AsyncIterator[StreamDelta]:
        self._require(model)
        loaded = self._need()
        # Tool and schema problems are the caller's (422) and surface before the request waits for a sequence.
        plan = plan_output(options)
        spec = sampler_spec(options, self.sampling, grammar_for(plan))
        request = loaded.request(messages, options, plan, spec, adapter=self.served[model])
        sequence = loaded.engine.submit(request)
        collector = OutputCollector(plan)
        try:
            async for text in sequence:
                for delta in collector.feed(text):
                    yield delta
            if sequence.finish_reason == "cancelled":
                raise LLMError("the embedded backend stopped before the answer ended", "retry the request")
            for delta in collector.finish(
                truncated=sequence.finish_reason == "length",
                prompt_tokens=len(request.prompt),
                completion_tokens=len(sequence.tokens),
            ):
                yield delta
        finally:
            # Reached on completion, on an error and when the consumer goes away (client disconnect).
            sequence.cancel()
