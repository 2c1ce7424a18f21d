"""Embedded generation with llama-cpp-python: one loaded GGUF, requests served one by one from a queue."""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

from synapse.errors import SynapseError
from synapse.llm.base import LLMBackend
from synapse.llm.chat_template import ChatTemplate
from synapse.llm.errors import BackendUnavailableError, LLMError, ModelNotFoundError, UnsupportedSchemaError
from synapse.llm.gguf_card import file_type_name, gguf_card
from synapse.llm.grammars import grammar_for, grammar_parses
from synapse.llm.models import (
    BackendHealth,
    ChatMessage,
    GenerationOptions,
    LoadedModel,
    ModelCard,
    ModelInfo,
    StreamDelta,
)
from synapse.llm.output import OutputCollector, OutputPlan, plan_output
from synapse.llm.resolve import DEMO_WARNING, ResolvedModel, resolve_gguf
from synapse.llm.sampling import FALLBACK, Sampling, model_sampling, request_sampling

log = logging.getLogger("synapse.llm")

# llama.cpp's OpenMP threads spin while they wait; next to the event loop, CORTEX and other processes on a
# small machine that spinning starves everyone (measured on 2 busy cores: 2 threads decode SmolLM2 at
# 4-5 tokens/s spinning, 30-33 passive; prompt 40 vs 82 tokens/s). Only effective before llama_cpp loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# Used when a GGUF carries no chat template: ChatML, what Qwen2.5 and SmolLM2 were trained on.
_CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@dataclass
class _Job:
    """One generation request travelling from the event loop to the worker thread and back."""

    messages: list[ChatMessage]
    options: GenerationOptions
    loop: asyncio.AbstractEventLoop
    plan: OutputPlan = field(default_factory=OutputPlan)
    grammar: str | None = None
    out: asyncio.Queue[StreamDelta | BaseException] = field(default_factory=asyncio.Queue)
    cancelled: threading.Event = field(default_factory=threading.Event)

    def emit(self, item: StreamDelta | BaseException) -> None:
        try:
            self.loop.call_soon_threadsafe(self.out.put_nowait, item)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            self.cancelled.set()


def _drain(
    first: StreamDelta | BaseException, out: asyncio.Queue[StreamDelta | BaseException]
) -> list[StreamDelta | BaseException]:
    """`first` and whatever else is already queued, with consecutive text pieces joined into one delta.

    A consumer that fell behind (a busy machine, many streams) then sends one chunk instead of a chunk per
    token; a consumer that keeps up sees the tokens one by one. Tool-call pieces are never joined.
    """
    items: list[StreamDelta | BaseException] = [first]
    while not out.empty():
        last, nxt = items[-1], out.get_nowait()
        if _plain(last) and _plain(nxt):
            items[-1] = StreamDelta(content=last.content + nxt.content)
        else:
            items.append(nxt)
    return items


def _plain(item: StreamDelta | BaseException) -> TypeGuard[StreamDelta]:
    return isinstance(item, StreamDelta) and not (item.done or item.tool_call_deltas)


class LlamaCppBackend(LLMBackend):
    """llama.cpp in process; generation runs in one worker thread so the event loop stays free."""

    kind = "llamacpp"

    def __init__(
        self,
        *,
        gguf: Path | None = None,
        n_ctx: int = 4096,
        n_threads: int = 0,
        data_dir: Path | None = None,
        resolved: ResolvedModel | None = None,
    ) -> None:
        self._gguf = gguf
        self._n_ctx = n_ctx
        self._n_threads = n_threads
        self._data_dir = data_dir
        self.resolved = resolved
        self._llama: Any = None
        self._template: ChatTemplate | None = None
        self._template_text = ""
        self._eos_text = ""
        #: The loaded model's sampling defaults, for what a request leaves open.
        self.sampling: Sampling = FALLBACK
        self._error = "the embedded model is not loaded yet"
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._start_lock = asyncio.Lock()
        #: Generations finished and stopped early (client gone), for the health view and tests.
        self.completed = 0
        self.cancelled = 0

    # ---- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        async with self._start_lock:
            if self._llama is not None:
                return
            try:
                if self.resolved is None:
                    self.resolved = resolve_gguf(self._gguf, self._data_dir)
                await asyncio.to_thread(self._load, self.resolved)
            except SynapseError as exc:
                self._error = str(exc)
                log.error("embedded backend unavailable: %s", exc)
                return
            except Exception as exc:  # a broken GGUF or a missing llama_cpp: report, keep serving the rest
                self._error = f"cannot load {self.resolved.path if self.resolved else 'the GGUF'}: {exc}"
                log.error("embedded backend unavailable: %s", self._error)
                return
            self._worker = threading.Thread(target=self._work, name="llamacpp-worker", daemon=True)
            self._worker.start()

    def _load(self, resolved: ResolvedModel) -> None:
        try:
            from llama_cpp import Llama
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter
        except ImportError as exc:
            raise SynapseError(
                "llama-cpp-python is not installed",
                "install the llm extra: python3 bootstrap.py install llm (or pip install -e '.[llm]')",
            ) from exc
        llama = Llama(
            model_path=str(resolved.path),
            lora_path=str(resolved.lora) if resolved.lora is not None else None,
            n_ctx=self._n_ctx,
            n_threads=self._n_threads or None,
            verbose=False,
        )
        model = llama._model
        eos_id, bos_id = llama.token_eos(), llama.token_bos()
        template = llama.metadata.get("tokenizer.chat_template") or _CHATML
        self._eos_text = model.token_get_text(eos_id) if eos_id != -1 else ""
        formatter = Jinja2ChatFormatter(
            template=template,
            eos_token=self._eos_text,
            bos_token=model.token_get_text(bos_id) if bos_id != -1 else "",
        )
        self._template = ChatTemplate(formatter, template)
        self._template_text = template
        self.sampling = model_sampling(resolved.path, resolved.demo)
        self._llama = llama
        if resolved.demo:
            log.warning("embedded backend: %s (%s); %s", resolved.name, resolved.path, DEMO_WARNING)
        else:
            log.info("embedded backend: %s from %s (%s)", resolved.name, resolved.path, resolved.origin)

    async def aclose(self) -> None:
        if self._worker is not None:
            self._jobs.put(None)
            await asyncio.to_thread(self._worker.join, 30)
            self._worker = None
        if self._llama is not None:
            close: Callable[[], None] | None = getattr(self._llama, "close", None)
            if close is not None:
                close()
            self._llama = None
            self._error = "the embedded backend is closed"

    # ---- information -----------------------------------------------------------------------------

    @property
    def model_name(self) -> str | None:
        """The name the loaded model is served under."""
        return self.resolved.name if self.resolved is not None and self._llama is not None else None

    async def health(self) -> BackendHealth:
        if self._llama is None or self.resolved is None:
            return BackendHealth(backend="llamacpp", status="down", detail=self._error)
        return BackendHealth(
            backend="llamacpp",
            status="ok",
            detail=f"{self.resolved.path} ({self.resolved.origin})",
            models=[self.resolved.name],
            demo=self.resolved.demo,
        )

    async def list_models(self) -> list[ModelInfo]:
        resolved = self._require()
        meta = self._llama.metadata
        return [
            ModelInfo(
                name=resolved.name,
                backend="llamacpp",
                context_window=self._llama.n_ctx(),
                size=resolved.path.stat().st_size,
                family=meta.get("general.architecture"),
                quantization=file_type_name(meta.get("general.file_type")),
                demo=resolved.demo,
                path=str(resolved.path),
            )
        ]

    async def loaded_models(self) -> list[LoadedModel]:
        if self._llama is None or self.resolved is None:
            return []
        [info] = await self.list_models()
        # Nothing is offloaded to a GPU (no n_gpu_layers), and the model stays loaded while the server runs.
        return [
            LoadedModel(
                name=info.name,
                size=info.size or 0,
                context_length=info.context_window,
                family=info.family,
                quantization=info.quantization,
            )
        ]

    async def model_card(self, model: str) -> ModelCard:
        if self._llama is None or self.resolved is None or model != self.resolved.name:
            return ModelCard()
        n_params = getattr(self._llama._model, "n_params", None)
        return gguf_card(
            self._llama.metadata,
            template=self._template_text,
            n_ctx=int(self._llama.n_ctx()),
            stops=[self._eos_text] if self._eos_text else [],
            n_params=int(n_params()) if callable(n_params) else None,
        )

    def check_options(self, options: GenerationOptions) -> None:
        grammar_for(plan_output(options))

    def count_tokens(self, text: str) -> int:
        if self._llama is None:
            return super().count_tokens(text)
        return len(self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def context_window(self, model: str) -> int:
        return int(self._llama.n_ctx()) if self._llama is not None else self._n_ctx

    def warnings(self, model: str) -> list[str]:
        return [DEMO_WARNING] if self.resolved is not None and self.resolved.demo else []

    def _require(self, model: str | None = None) -> ResolvedModel:
        if self._llama is None or self.resolved is None:
            raise BackendUnavailableError(
                f"the embedded llama.cpp backend is down: {self._error}",
                "set SYNAPSE_GGUF to a .gguf file, or SYNAPSE_BACKEND=ollama with a running Ollama",
            )
        if model is not None and model != self.resolved.name:
            raise ModelNotFoundError(
                f"the embedded backend serves {self.resolved.name!r}, not {model!r}",
                "use a name from GET /v1/models",
            )
        return self.resolved

    # ---- generation ----------------------------------------------------------------------------

    async def stream(
        self, messages: Sequence[ChatMessage], model: str, options: GenerationOptions
    ) -> AsyncIterator[StreamDelta]:
        self._require(model)
        # Tool and schema problems are the caller's (422) and surface before the request waits in the queue.
        plan = plan_output(options)
        job = _Job(
            messages=list(messages),
            options=options,
            loop=asyncio.get_running_loop(),
            plan=plan,
            grammar=grammar_for(plan),
        )
        self._jobs.put(job)
        try:
            while True:
                for item in _drain(await job.out.get(), job.out):
                    if isinstance(item, BaseException):
                        raise item
                    yield item
                    if item.done:
                        return
        finally:
            # Reached on completion, on an error and when the consumer goes away (client disconnect).
            job.cancelled.set()

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            if job.cancelled.is_set():
                self.cancelled += 1
                continue
            try:
                self._generate(job)
            except SynapseError as exc:
                job.emit(exc)
            except Exception as exc:  # surfaced to the caller, the worker keeps serving
                log.exception("embedded generation failed")
                job.emit(LLMError(f"embedded generation failed: {exc}", "see the server log"))

    def _prompt(self, job: _Job) -> tuple[list[int], list[str]]:
        """The prompt's tokens and the stop strings."""
        assert self._template is not None
        rendered = self._template.render(job.messages, job.plan.prompt_tools)
        prompt: list[int] = self._llama.tokenize(
            rendered.text.encode("utf-8"), add_bos=not rendered.added_special, special=True
        )
        n_ctx = int(self._llama.n_ctx())
        if n_ctx - len(prompt) < 1:
            raise LLMError(
                f"the prompt has {len(prompt)} tokens, the model's context holds {n_ctx}",
                "shorten the conversation or raise SYNAPSE_N_CTX",
            )
        return prompt, [s for s in [*rendered.stops, *job.options.stop] if s]

    def _grammar(self, job: _Job) -> Any:
        if job.grammar is None:
            return None
        from llama_cpp.llama_grammar import LlamaGrammar

        if not grammar_parses(self._llama._model.vocab, job.grammar):
            raise UnsupportedSchemaError(
                "llama.cpp cannot parse the grammar built from the schema", "simplify the schema (see the server log)"
            )
        return LlamaGrammar.from_string(job.grammar, verbose=False)

    def _generate(self, job: _Job) -> None:
        from llama_cpp import StoppingCriteriaList

        prompt, stops = self._prompt(job)
        opts = job.options
        sampling = request_sampling(opts, self.sampling)

        def cancelled(_ids: Any, _logits: Any) -> bool:
            return job.cancelled.is_set()

        collector = OutputCollector(job.plan)
        pieces: list[str] = []
        finish: str | None = None
        chunks = self._llama.create_completion(
            prompt=prompt,
            max_tokens=min(opts.max_tokens, int(self._llama.n_ctx()) - len(prompt)),
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            top_k=sampling.top_k,
            repeat_penalty=sampling.repeat_penalty,
            stop=stops,
            seed=opts.seed,
            stream=True,
            stopping_criteria=StoppingCriteriaList([cancelled]),
            grammar=self._grammar(job),
        )
        try:
            for chunk in chunks:
                if job.cancelled.is_set():
                    break
                choice = chunk["choices"][0]
                text = choice.get("text") or ""
                pieces.append(text)
                for delta in collector.feed(text):
                    job.emit(delta)
                finish = choice.get("finish_reason") or finish
        finally:
            chunks.close()
        if job.cancelled.is_set():
            self.cancelled += 1
            return
        self.completed += 1
        completion = self.count_tokens("".join(pieces)) if any(pieces) else 0
        final = collector.finish(truncated=finish == "length", prompt_tokens=len(prompt), completion_tokens=completion)
        for delta in final:
            job.emit(delta)
