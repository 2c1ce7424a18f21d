"""The only module of the batch engine that touches llama-cpp-python's low-level (ctypes) API.

Its names move between llama.cpp releases (the KV cache became `llama_memory_*` in 2025); `NATIVE_NAMES` lists
every one used here, and a contract test checks them, so a new llama-cpp-python fails with a list of the
missing names rather than deep inside a decode step.
"""

from __future__ import annotations

import ctypes
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synapse.errors import SynapseError

# Same reason as in llamacpp.py: spinning OpenMP threads starve a small machine. Only effective before import.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

NATIVE_NAMES = (
    "llama_backend_init",
    "llama_model_default_params",
    "llama_model_load_from_file",
    "llama_model_free",
    "llama_model_get_vocab",
    "llama_context_default_params",
    "llama_init_from_model",
    "llama_free",
    "llama_n_ctx",
    "llama_n_seq_max",
    "llama_get_memory",
    "llama_memory_seq_rm",
    "llama_memory_seq_pos_max",
    "llama_memory_clear",
    "llama_batch_init",
    "llama_batch_free",
    "llama_decode",
    "llama_tokenize",
    "llama_token_to_piece",
    "llama_vocab_is_eog",
    "llama_vocab_n_tokens",
    "llama_sampler_chain_default_params",
    "llama_sampler_chain_init",
    "llama_sampler_chain_add",
    "llama_sampler_init_greedy",
    "llama_sampler_init_dist",
    "llama_sampler_init_temp",
    "llama_sampler_init_top_k",
    "llama_sampler_init_top_p",
    "llama_sampler_init_penalties",
    "llama_sampler_init_grammar",
    "llama_sampler_sample",
    "llama_sampler_free",
)
#: Fields of llama_context_params set here.
CONTEXT_FIELDS = (
    "n_ctx",
    "n_batch",
    "n_ubatch",
    "n_seq_max",
    "n_threads",
    "n_threads_batch",
    "kv_unified",
    "flash_attn_type",
)


def missing_native_names(lib: Any) -> list[str]:
    """The names this module needs that `lib` (the llama_cpp module) lacks; empty when compatible."""
    missing = [name for name in NATIVE_NAMES if not hasattr(lib, name)]
    params = getattr(lib, "llama_context_params", None)
    fields = {f[0] for f in getattr(params, "_fields_", [])}
    missing += [f"llama_context_params.{f}" for f in CONTEXT_FIELDS if f not in fields]
    return missing


def _lib() -> Any:
    try:
        import llama_cpp
    except ImportError as exc:
        raise SynapseError(
            "llama-cpp-python is not installed",
            "install the llm extra: python3 bootstrap.py install llm (or pip install -e '.[llm]')",
        ) from exc
    missing = missing_native_names(llama_cpp)
    if missing:
        raise SynapseError(
            f"llama-cpp-python {getattr(llama_cpp, '__version__', '?')} lacks {', '.join(missing)}",
            "install the llama-cpp-python version pinned in pyproject.toml",
        )
    return llama_cpp


@dataclass(frozen=True)
class SamplerSpec:
    """One sequence's sampling; temperature 0 is greedy."""

    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    repeat_penalty: float = 1.0
    repeat_last_n: int = 64
    seed: int = 0xFFFFFFFF
    grammar: str | None = None


class Sampler:
    """A llama.cpp sampler chain owned by one sequence (penalties and grammar keep per-sequence state)."""

    def __init__(self, native: NativeModel, spec: SamplerSpec) -> None:
        lib = native.lib
        self._lib = lib
        self._ptr: Any = lib.llama_sampler_chain_init(lib.llama_sampler_chain_default_params())
        if spec.grammar is not None:
            grammar = lib.llama_sampler_init_grammar(native.vocab, spec.grammar.encode("utf-8"), b"root")
            if not grammar:
                self.free()
                raise SynapseError("llama.cpp cannot parse the grammar", "check the GBNF (see the server log)")
            self._add(grammar)
        if spec.repeat_penalty != 1.0:
            n_vocab = lib.llama_vocab_n_tokens(native.vocab)
            self._add(lib.llama_sampler_init_penalties(n_vocab, spec.repeat_last_n, spec.repeat_penalty, 0.0, 0.0))
        if spec.temperature <= 0.0:
            self._add(lib.llama_sampler_init_greedy())
            return
        if spec.top_k > 0:
            self._add(lib.llama_sampler_init_top_k(spec.top_k))
        if spec.top_p < 1.0:
            self._add(lib.llama_sampler_init_top_p(spec.top_p, 1))
        self._add(lib.llama_sampler_init_temp(spec.temperature))
        self._add(lib.llama_sampler_init_dist(spec.seed))

    def _add(self, sampler: Any) -> None:
        """Append to the chain, which owns and frees it from then on."""
        self._lib.llama_sampler_chain_add(self._ptr, sampler)

    def sample(self, native: NativeModel, index: int) -> int:
        """The next token from the logits of batch row `index` (also accepted into the chain's state)."""
        return int(self._lib.llama_sampler_sample(self._ptr, native.ctx, index))

    def free(self) -> None:
        if self._ptr is not None:
            self._lib.llama_sampler_free(self._ptr)
            self._ptr = None


class NativeModel:
    """One GGUF, one context with `n_seq` sequences of `n_ctx_seq` cells each, and one reusable batch."""

    def __init__(
        self, path: Path, *, n_seq: int, n_ctx_seq: int, n_batch: int = 512, n_threads: int = 0, unified: bool = False
    ) -> None:
        lib = _lib()
        self.lib = lib
        # llama-cpp-python's log callback prints every loader line unless its logger is raised (as verbose=False).
        logging.getLogger("llama-cpp-python").setLevel(logging.ERROR)
        lib.llama_backend_init()
        mparams = lib.llama_model_default_params()
        self.model = lib.llama_model_load_from_file(str(path).encode("utf-8"), mparams)
        if not self.model:
            raise SynapseError(f"llama.cpp cannot load {path}", "check that the file is a complete GGUF")
        self.vocab = lib.llama_model_get_vocab(self.model)
        cparams = lib.llama_context_default_params()
        threads = n_threads or max((os.cpu_count() or 2) // 2, 1)
        cparams.n_ctx = n_ctx_seq * n_seq
        n_batch = max(n_batch, n_seq)  # every sequence's next token must fit in one step's batch
        cparams.n_batch = cparams.n_ubatch = n_batch
        cparams.n_seq_max = n_seq
        cparams.n_threads = cparams.n_threads_batch = threads
        # Not unified (the default): each sequence owns n_ctx_seq cells, so one long answer cannot take
        # another's room; unified: one pool of n_seq * n_ctx_seq cells that any sequence may fill.
        cparams.kv_unified = unified
        # Off, as LlamaCppBackend's Llama has it: greedy answers then match today's path token for token.
        cparams.flash_attn_type = 0
        self.ctx = lib.llama_init_from_model(self.model, cparams)
        if not self.ctx:
            lib.llama_model_free(self.model)
            raise SynapseError(f"llama.cpp cannot make a context for {path}", "lower SYNAPSE_PARALLEL or the context")
        self.memory = lib.llama_get_memory(self.ctx)
        self.n_seq = n_seq
        self.n_ctx_seq = n_ctx_seq
        self.n_batch = n_batch
        self._batch = lib.llama_batch_init(n_batch, 0, 1)
        self._piece = ctypes.create_string_buffer(256)

    # ---- text ----------------------------------------------------------------------------------

    def tokenize(self, text: str, *, add_special: bool = True, parse_special: bool = True) -> list[int]:
        data = text.encode("utf-8")
        room = len(data) + 8
        buf = (self.lib.llama_token * room)()
        n = self.lib.llama_tokenize(self.vocab, data, len(data), buf, room, add_special, parse_special)
        if n < 0:  # too small: llama.cpp answers minus the size it needs
            buf = (self.lib.llama_token * -n)()
            n = self.lib.llama_tokenize(self.vocab, data, len(data), buf, -n, add_special, parse_special)
        return list(buf[:n])

    def piece(self, token: int) -> bytes:
        """The bytes of one token (control tokens render as nothing, as the high-level Llama does)."""
        n = self.lib.llama_token_to_piece(self.vocab, token, self._piece, len(self._piece), 0, False)
        return bytes(self._piece.raw[:n]) if n > 0 else b""

    def is_eog(self, token: int) -> bool:
        return bool(self.lib.llama_vocab_is_eog(self.vocab, token))

    # ---- decoding ------------------------------------------------------------------------------

    def decode(self, rows: list[tuple[int, int, int, bool]]) -> None:
        """One llama_decode over rows of (token, position, sequence, wants logits); at most n_batch rows."""
        batch = self._batch
        for i, (token, pos, seq, logits) in enumerate(rows):
            batch.token[i] = token
            batch.pos[i] = pos
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = seq
            batch.logits[i] = logits
        batch.n_tokens = len(rows)
        rc = self.lib.llama_decode(self.ctx, batch)
        if rc != 0:
            raise SynapseError(f"llama_decode failed with {rc} on a batch of {len(rows)}", "see the server log")

    def free_sequence(self, seq: int) -> None:
        """Drop every KV cell of `seq` so the slot starts empty for its next request."""
        self.lib.llama_memory_seq_rm(self.memory, seq, -1, -1)

    def cells_used(self, seq: int) -> int:
        """How many positions `seq` holds in the KV cache (0 once freed)."""
        return int(self.lib.llama_memory_seq_pos_max(self.memory, seq)) + 1

    def close(self) -> None:
        if self.ctx:
            self.lib.llama_batch_free(self._batch)
            self.lib.llama_free(self.ctx)
            self.lib.llama_model_free(self.model)
            self.ctx = None
            self.model = None
