"""The only module of the batch engine that touches llama-cpp-python's low-level (ctypes) API.

Every name it uses is listed in `native_contract.NATIVE_NAMES`, checked when llama_cpp is first imported here.
"""

from __future__ import annotations

import ctypes
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synapse.errors import SynapseError
from synapse.llm.batch.native_contract import missing_native_names


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


@dataclass(frozen=True)
class Shape:
    """A context: `n_seq` sequences of `n_ctx_seq` KV cells each, `n_batch` tokens a decode, the threads.

    Not unified (the default): each sequence owns its cells, so one long answer cannot take another's room;
    unified: one pool of n_seq * n_ctx_seq cells that any sequence may fill (sequences can share cells, but a
    token's attention then runs over the other sequences' cells too, masked, and greedy answers can differ
    from those decoded alone in the last bits: measured on SmolLM2, so not used by the engine).
    """

    n_seq: int
    n_ctx_seq: int
    n_batch: int = 512
    n_threads: int = 0
    unified: bool = False
    #: Contexts at most over the one model (`NativeModel.add_lane`), each with its own cells and adapter.
    contexts: int = 1


@dataclass(frozen=True)
class Placement:
    """Where the weights live and what runs on top of them: layers on the GPU (0: none, -1: all) and the LoRAs,
    each loaded once under its name and applied per sequence group (`NativeModel.use_adapter`)."""

    gpu_layers: int = 0
    loras: tuple[tuple[str, Path], ...] = ()


class _Lane:
    """One llama.cpp context over the shared model: its own KV cells, batch and applied adapter."""

    def __init__(self, lib: Any, model: Any, cparams: Any, n_batch: int) -> None:
        self.ctx = lib.llama_init_from_model(model, cparams)
        if not self.ctx:
            raise SynapseError(
                "llama.cpp cannot make a context", "lower SYNAPSE_PARALLEL, SYNAPSE_N_CTX or the contexts"
            )
        self.memory = lib.llama_get_memory(self.ctx)
        self.batch = lib.llama_batch_init(n_batch, 0, 1)
        self.adapter: str | None = None

    def free(self, lib: Any) -> None:
        lib.llama_batch_free(self.batch)
        lib.llama_free(self.ctx)


class NativeModel:
    """One GGUF and its LoRAs, loaded once, under one or more contexts ("lanes") of `n_seq` sequences of
    `n_ctx_seq` cells each. Sequence slots are numbered across lanes: slot s is sequence s % n_seq of lane
    s // n_seq. Each lane applies one adapter at a time; a lane per adapter in use spares the switches."""

    def __init__(self, path: Path, shape: Shape, placement: Placement | None = None) -> None:
        lib = _lib()
        self.lib = lib
        where = placement or Placement()
        # llama-cpp-python's log callback prints every loader line unless its logger is raised (as verbose=False).
        logging.getLogger("llama-cpp-python").setLevel(logging.ERROR)
        lib.llama_backend_init()
        mparams = lib.llama_model_default_params()
        mparams.n_gpu_layers = where.gpu_layers if where.gpu_layers >= 0 else 999
        self.model = lib.llama_model_load_from_file(str(path).encode("utf-8"), mparams)
        if not self.model:
            raise SynapseError(f"llama.cpp cannot load {path}", "check that the file is a complete GGUF")
        self.vocab = lib.llama_model_get_vocab(self.model)
        cparams = lib.llama_context_default_params()
        # As llama-cpp-python's Llama (today's path) by default: half the cores decode one row, all of them a
        # batch of several (a prompt, or many sequences' next tokens), where the extra threads pay off.
        threads = shape.n_threads or max((os.cpu_count() or 2) // 2, 1)
        batch_threads = shape.n_threads or (os.cpu_count() or 1)
        cparams.n_ctx = shape.n_ctx_seq * shape.n_seq
        n_batch = max(shape.n_batch, shape.n_seq)  # every sequence's next token must fit in one step's batch
        cparams.n_batch = cparams.n_ubatch = n_batch
        cparams.n_seq_max = shape.n_seq
        cparams.n_threads, cparams.n_threads_batch = threads, batch_threads
        cparams.kv_unified = shape.unified
        # Off, as LlamaCppBackend's Llama has it: greedy answers then match today's path token for token.
        cparams.flash_attn_type = 0
        self._cparams = cparams
        self.n_seq = shape.n_seq
        self.n_ctx_seq = shape.n_ctx_seq
        self.unified = shape.unified
        self.n_batch = n_batch
        self.max_lanes = max(1, shape.contexts)
        self._lanes: list[_Lane] = []
        self._current = 0  # the lane of the last decode: logits and sampling read its context
        self._piece = ctypes.create_string_buffer(256)
        self._n_vocab = int(lib.llama_vocab_n_tokens(self.vocab))
        #: The loaded LoRAs by name (freed with the model) and how many times a lane's applied adapter
        #: changed (the bench reads it).
        self._loras: dict[str, Any] = {}
        self.switches = 0
        try:
            self.add_lane()
            for name, lora in where.loras:
                self._loras[name] = self._load_lora(lora)
        except SynapseError:
            self.close()
            raise

    def _load_lora(self, path: Path) -> Any:
        lora = self.lib.llama_adapter_lora_init(self.model, str(path).encode("utf-8"))
        if not lora:
            raise SynapseError(
                f"llama.cpp cannot load the LoRA {path}",
                "export it again for this base: synapse export NAME --mode adapter",
            )
        return lora

    @property
    def adapters(self) -> tuple[str, ...]:
        """The names of the loaded LoRAs."""
        return tuple(self._loras)

    @property
    def n_lanes(self) -> int:
        return len(self._lanes)

    def add_lane(self) -> int:
        """Make one more context over the loaded weights (its own KV cells: n_seq * n_ctx_seq); its index."""
        if len(self._lanes) >= self.max_lanes:
            raise SynapseError(f"{self.max_lanes} contexts are made already", "reuse one of them")
        self._lanes.append(_Lane(self.lib, self.model, self._cparams, self.n_batch))
        return len(self._lanes) - 1

    def lane_of(self, slot: int) -> int:
        return slot // self.n_seq

    def adapter_of(self, lane: int) -> str | None:
        """The adapter `lane` applies now (None: the bare base)."""
        return self._lanes[lane].adapter

    def use_adapter(self, name: str | None, lane: int = 0) -> None:
        """Apply the LoRA `name` (None: none) to every decode of `lane` from now on; a no-op when it is applied.

        llama.cpp re-plans a context's compute graph after a change (milliseconds at 1.5B shapes), so the
        engine gives each adapter in use a lane of its own where it can and switches at most once per group."""
        held = self._lanes[lane]
        if name == held.adapter:
            return
        lib = self.lib
        if name is None:
            rc = lib.llama_set_adapters_lora(held.ctx, None, 0, None)
        else:
            if name not in self._loras:
                raise SynapseError(f"no LoRA {name!r} is loaded", f"use one of: {', '.join(self._loras) or 'none'}")
            adapters = (lib.llama_adapter_lora_p_ctypes * 1)(self._loras[name])
            scales = (ctypes.c_float * 1)(1.0)
            rc = lib.llama_set_adapters_lora(held.ctx, adapters, 1, scales)
        if rc != 0:
            raise SynapseError(f"llama.cpp cannot apply the LoRA {name!r}", "check that it was exported for this base")
        held.adapter = name
        self.switches += 1

    # ---- the model's facts ---------------------------------------------------------------------

    def metadata(self) -> dict[str, str]:
        """The GGUF's metadata as llama.cpp reads it (every value as a string)."""
        lib, out = self.lib, {}
        buf = ctypes.create_string_buffer(4096)

        def read(fn: Any, i: int) -> str:
            nonlocal buf
            n = int(fn(self.model, i, buf, len(buf)))
            if n >= len(buf):  # cut short: llama.cpp answered the length it needs
                buf = ctypes.create_string_buffer(n + 1)
                n = int(fn(self.model, i, buf, len(buf)))
            return buf.raw[: max(n, 0)].decode("utf-8", errors="replace")

        for i in range(int(lib.llama_model_meta_count(self.model))):
            out[read(lib.llama_model_meta_key_by_index, i)] = read(lib.llama_model_meta_val_str_by_index, i)
        return out

    def special_text(self, which: str) -> str:
        """The text of the vocabulary's `bos` or `eos` token ("" when it has none)."""
        fn = self.lib.llama_vocab_bos if which == "bos" else self.lib.llama_vocab_eos
        token = int(fn(self.vocab))
        if token < 0:
            return ""
        raw: bytes | None = self.lib.llama_vocab_get_text(self.vocab, token)
        return raw.decode("utf-8", errors="replace") if raw else ""

    def n_params(self) -> int:
        return int(self.lib.llama_model_n_params(self.model))

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

    @property
    def ctx(self) -> Any:
        """The context of the last decode's lane (the samplers read its logits)."""
        return self._lanes[self._current].ctx

    def _seq(self, slot: int) -> tuple[Any, int]:
        """The KV memory of `slot`'s lane and its sequence id there."""
        return self._lanes[self.lane_of(slot)].memory, slot % self.n_seq

    def decode(self, rows: list[tuple[int, int, int, bool]]) -> None:
        """One llama_decode over rows of (token, position, slot, wants logits); at most n_batch rows, all of
        them slots of one lane."""
        self._current = self.lane_of(rows[0][2])
        lane = self._lanes[self._current]
        batch = lane.batch
        for i, (token, pos, slot, logits) in enumerate(rows):
            batch.token[i] = token
            batch.pos[i] = pos
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = slot % self.n_seq
            batch.logits[i] = logits
        batch.n_tokens = len(rows)
        rc = self.lib.llama_decode(lane.ctx, batch)
        if rc != 0:
            raise SynapseError(f"llama_decode failed with {rc} on a batch of {len(rows)}", "see the server log")

    def logits(self, index: int) -> list[float]:
        """The logits of batch row `index` of the last decode (tests compare adapters with merged models)."""
        row = self.lib.llama_get_logits_ith(self.ctx, index)
        return [float(row[i]) for i in range(self._n_vocab)]

    def trim_sequence(self, slot: int, keep: int) -> None:
        """Drop the KV cells of `slot` from position `keep` on (0: all of them)."""
        memory, seq = self._seq(slot)
        self.lib.llama_memory_seq_rm(memory, seq, keep, -1)

    def copy_prefix(self, src: int, dst: int, n: int) -> None:
        """Give `dst` (whose cells are dropped) the first `n` cells of `src`, a slot of the same lane. In a
        unified cache the cells are shared; across sequences of their own llama.cpp copies the whole buffer of
        `src` at the next decode (a memory copy, far cheaper than decoding those tokens again) and the cells
        past `n` are dropped."""
        lib = self.lib
        memory, to = self._seq(dst)
        source_memory, source = self._seq(src)
        if source_memory is not memory:
            raise SynapseError("a prefix is copied only within one context", "copy from a slot of the same lane")
        lib.llama_memory_seq_rm(memory, to, -1, -1)
        if self.unified:
            lib.llama_memory_seq_cp(memory, source, to, 0, n)
            return
        lib.llama_memory_seq_cp(memory, source, to, -1, -1)
        lib.llama_memory_seq_rm(memory, to, n, -1)

    def free_sequence(self, slot: int) -> None:
        """Drop every KV cell of `slot` so it starts empty for its next request."""
        memory, seq = self._seq(slot)
        self.lib.llama_memory_seq_rm(memory, seq, -1, -1)

    def cells_used(self, slot: int) -> int:
        """How many positions `slot` holds in the KV cache (0 once freed)."""
        memory, seq = self._seq(slot)
        return int(self.lib.llama_memory_seq_pos_max(memory, seq)) + 1

    def close(self) -> None:
        for lane in self._lanes:
            lane.free(self.lib)
        self._lanes = []
        if self.model:
            self.lib.llama_model_free(self.model)
            self.model = None
