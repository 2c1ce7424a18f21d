"""What the batch engine needs of llama-cpp-python's low-level (ctypes) API, checked before anything calls it.

Its names move between llama.cpp releases (the KV cache became `llama_memory_*` in 2025); `NATIVE_NAMES` lists
every one `native.py` (the only module that calls them) uses, and a contract test checks them, so a new
llama-cpp-python fails with a list of the missing names rather than deep inside a decode step.
"""

from __future__ import annotations

from typing import Any

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
    "llama_memory_seq_cp",
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
    "llama_model_meta_count",
    "llama_model_meta_key_by_index",
    "llama_model_meta_val_str_by_index",
    "llama_model_n_params",
    "llama_vocab_bos",
    "llama_vocab_eos",
    "llama_vocab_get_text",
    "llama_adapter_lora_init",
    "llama_set_adapters_lora",
    "llama_get_logits_ith",
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
