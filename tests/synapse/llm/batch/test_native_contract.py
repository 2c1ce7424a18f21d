"""The names the batch engine takes from llama-cpp-python's low-level API exist in the installed version."""

from __future__ import annotations

import types

import pytest

from synapse.llm.batch.native import CONTEXT_FIELDS, NATIVE_NAMES, missing_native_names


def test_installed_llama_cpp_has_every_name_the_engine_uses() -> None:
    llama_cpp = pytest.importorskip("llama_cpp", reason="the llm extra is not installed")
    missing = missing_native_names(llama_cpp)
    assert missing == [], (
        f"llama-cpp-python {llama_cpp.__version__} renamed or dropped {missing}: "
        "update synapse/llm/batch/native.py (the only module that calls them)"
    )


def test_a_changed_api_is_reported_by_name() -> None:
    old = types.SimpleNamespace(**{name: object() for name in NATIVE_NAMES if name != "llama_memory_seq_rm"})
    old.llama_context_params = type("P", (), {"_fields_": [(f, None) for f in CONTEXT_FIELDS if f != "kv_unified"]})
    assert missing_native_names(old) == ["llama_memory_seq_rm", "llama_context_params.kv_unified"]
