"""llama.cpp's log during an export: to export.log, on the terminal only with --verbose; quantize progress."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the export tests need the `export` extra")

# Lines llama.cpp itself writes while quantizing and loading a GGUF.
_LLAMA_MARKS = ("llama_model_quantize", "llama_model_loader", "[   1/", "converting to")


def _export(base: Path, adapter: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    args = ["export", "td010v2", "--base", str(base), "--adapter", str(adapter), "--out", str(out)]
    env = {**os.environ, "SYNAPSE_DATA_DIR": str(out.parent / "data"), "COLUMNS": "120"}
    code = "import sys; from synapse.cli import app; sys.argv = ['synapse', *sys.argv[1:]]; app()"
    return subprocess.run(
        [sys.executable, "-c", code, *args, "--no-register", "--verify", "quick", *extra],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )


def _llama_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if any(mark in line for mark in _LLAMA_MARKS)]


def test_llama_cpp_lines_go_to_the_log_file_not_the_terminal(
    tiny_base: Path, tiny_adapter: Path, tmp_path: Path
) -> None:
    res = _export(tiny_base, tiny_adapter, tmp_path / "o")
    assert res.returncode == 0, res.stderr
    assert _llama_lines(res.stdout + res.stderr) == []
    logged = (tmp_path / "o" / "export.log").read_text(encoding="utf-8")
    assert len(_llama_lines(logged)) >= 3
    assert "quantize" in res.stderr  # its progress bar


def test_verbose_prints_them(tiny_base: Path, tiny_adapter: Path, tmp_path: Path) -> None:
    res = _export(tiny_base, tiny_adapter, tmp_path / "o", "--verbose")
    assert res.returncode == 0, res.stderr
    assert len(_llama_lines(res.stdout + res.stderr)) >= 3


def test_contract_llama_cpp_logs_through_llama_log_set(tmp_path: Path) -> None:
    """The llama-cpp-python internals export/llama_log.py relies on: its callback type and llama_log_set."""
    import llama_cpp
    from llama_cpp import _logger

    from export.llama_log import llama_log_to

    assert callable(llama_cpp.llama_log_set) and callable(_logger.llama_log_callback)
    assert llama_cpp.llama_log_callback._argtypes_ == (ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)
    log = tmp_path / "export.log"
    params = llama_cpp.llama_model_quantize_default_params()
    with llama_log_to(log):
        code = llama_cpp.llama_model_quantize(str(tmp_path / "none.gguf").encode(), b"/dev/null", params)
    assert code != 0 and "none.gguf" in log.read_text(encoding="utf-8")
