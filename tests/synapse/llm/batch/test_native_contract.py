"""The names the batch engine takes from llama-cpp-python's low-level API exist in the installed version, and
the installed build decodes."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import pytest

from synapse.llm.batch.native_contract import CONTEXT_FIELDS, NATIVE_NAMES, missing_native_names

ROOT = Path(__file__).resolve().parents[4]


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


def test_the_installed_build_decodes_a_batch_of_several_tokens() -> None:
    """In a child process, since a broken build dies (SIGSEGV) rather than raising: llama.cpp 0.3.36 built
    with -march=native on a CPU with AMX crashed on every decode of more than one token."""
    pytest.importorskip("llama_cpp", reason="the llm extra is not installed")
    script = (
        "from synapse.llm.batch import NativeModel, Shape\n"
        "from synapse.llm.resolve import demo_gguf\n"
        "native = NativeModel(demo_gguf(), Shape(n_seq=2, n_ctx_seq=256))\n"
        "tokens = native.tokenize('Several tokens in one batch')\n"
        "native.decode([(t, i, 0, i == len(tokens) - 1) for i, t in enumerate(tokens)])\n"
        "print('decoded', len(tokens))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0 and "decoded" in done.stdout, (
        f"llama.cpp's decode failed (exit {done.returncode}); on a CPU with AMX rebuild llama-cpp-python "
        "without it: pip uninstall -y llama-cpp-python && python3 bootstrap.py install llm\n" + done.stderr[-2000:]
    )
