"""Loading the embedded model (weights, template, sampling defaults, batch engine) and turning a chat into
the token request the batch engine decodes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from synapse.errors import SynapseError
from synapse.llm.batch import BatchEngine, NativeModel, Placement, SamplerSpec, SequenceRequest, Shape
from synapse.llm.chat_template import ChatTemplate
from synapse.llm.errors import LLMError, UnsupportedSchemaError
from synapse.llm.grammars import grammar_parses
from synapse.llm.models import ChatMessage, GenerationOptions
from synapse.llm.output import OutputPlan
from synapse.llm.resolve import ResolvedModel
from synapse.llm.sampling import Sampling, model_sampling, request_sampling

if TYPE_CHECKING:
    from synapse.llm.llamacpp import EmbeddedConfig

# Used when a GGUF carries no chat template: ChatML, what Qwen2.5 and SmolLM2 were trained on.
_CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
#: llama.cpp's LLAMA_DEFAULT_SEED: a new random seed for each sequence.
RANDOM_SEED = 0xFFFFFFFF
#: Prompt tokens prefilled per step while other sequences decode: a long prompt delays them by one chunk.
PREFILL_CHUNK = 128


@dataclass
class Loaded:
    """The loaded model: the context and its engine, the GGUF's metadata, template and sampling defaults."""

    native: NativeModel
    engine: BatchEngine
    metadata: dict[str, str]
    template: ChatTemplate
    template_text: str
    eos_text: str
    sampling: Sampling

    def request(
        self,
        messages: Sequence[ChatMessage],
        options: GenerationOptions,
        plan: OutputPlan,
        spec: SamplerSpec,
        *,
        adapter: str | None = None,
    ) -> SequenceRequest:
        """The tokens of the rendered chat and its budget; errors name the limit that the prompt breaks."""
        rendered = self.template.render(messages, plan.prompt_tools)
        prompt = self.native.tokenize(rendered.text, add_special=not rendered.added_special, parse_special=True)
        n_ctx = self.native.n_ctx_seq
        if n_ctx - len(prompt) < 1:
            raise LLMError(
                f"the prompt has {len(prompt)} tokens, the model's context holds {n_ctx}",
                "shorten the conversation or raise SYNAPSE_N_CTX",
            )
        if spec.grammar is not None and not grammar_parses(self.native.vocab, spec.grammar):
            raise UnsupportedSchemaError(
                "llama.cpp cannot parse the grammar built from the schema", "simplify the schema (see the server log)"
            )
        return SequenceRequest(
            prompt=tuple(prompt),
            max_tokens=min(options.max_tokens, n_ctx - len(prompt)),
            stop=tuple(s for s in [*rendered.stops, *options.stop] if s),
            sampler=spec,
            client=options.client,
            adapter=adapter,
        )


def sampler_spec(options: GenerationOptions, defaults: Sampling, grammar: str | None) -> SamplerSpec:
    """The request's sampling over the model's defaults, as the engine's sampler chain takes it."""
    sampling = request_sampling(options, defaults)
    return SamplerSpec(
        temperature=sampling.temperature if sampling.temperature is not None else 0.0,
        top_p=sampling.top_p if sampling.top_p is not None else 1.0,
        top_k=sampling.top_k or 0,
        repeat_penalty=sampling.repeat_penalty if sampling.repeat_penalty is not None else 1.0,
        seed=options.seed if options.seed is not None else RANDOM_SEED,
        grammar=grammar,
    )


def load_model(resolved: ResolvedModel, config: EmbeddedConfig, loras: tuple[tuple[str, Path], ...] = ()) -> Loaded:
    """Load the GGUF and its LoRAs into a context of `config.parallel` sequences and start the engine."""
    try:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter
    except ImportError as exc:
        raise SynapseError(
            "llama-cpp-python is not installed",
            "install the llm extra: python3 bootstrap.py install llm (or pip install -e '.[llm]')",
        ) from exc
    native = NativeModel(
        resolved.path,
        Shape(n_seq=config.parallel, n_ctx_seq=config.n_ctx, n_threads=config.n_threads, contexts=config.contexts),
        Placement(gpu_layers=config.gpu_layers, loras=loras),
    )
    metadata = native.metadata()
    template = metadata.get("tokenizer.chat_template") or _CHATML
    eos_text = native.special_text("eos")
    formatter = Jinja2ChatFormatter(template=template, eos_token=eos_text, bos_token=native.special_text("bos"))
    return Loaded(
        native=native,
        engine=BatchEngine(native, prefill_chunk=PREFILL_CHUNK),
        metadata=metadata,
        template=ChatTemplate(formatter, template),
        template_text=template,
        eos_text=eos_text,
        sampling=model_sampling(resolved.path, resolved.demo),
    )
