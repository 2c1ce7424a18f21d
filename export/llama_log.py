"""Where llama.cpp's own log lines go during an export: the export's log file, the terminal only on request.

The one module that touches llama.cpp's logging internals (`llama_log_set` and llama-cpp-python's
callback in `llama_cpp._logger`); tests/export/test_llama_log.py checks that contract.
"""

from __future__ import annotations

import contextlib
import ctypes
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

# llama_model_quantize logs one line per tensor, starting "[  12/ 290]".
_TENSOR = re.compile(r"^\s*\[\s*(\d+)/\s*(\d+)\]")
TensorProgress = Callable[[int, int], None]


@dataclass
class _Route:
    path: Path | None = None
    file: TextIO | None = None
    echo: bool = True
    on_tensor: TensorProgress | None = None
    active: bool = False  # False: llama-cpp-python's own callback decides, as without this module


_route = _Route()
_state: dict[str, Any] = {}  # the installed ctypes callback (kept alive) and llama-cpp-python's own


def _receive(level: int, text: bytes | None, user_data: Any) -> None:
    line = (text or b"").decode("utf-8", "replace")
    found = _TENSOR.match(line)
    if found is not None and _route.on_tensor is not None:
        _route.on_tensor(int(found[1]), int(found[2]))
    if not _route.active:
        _state["original"](level, text, user_data)
        return
    if _route.path is not None:
        if _route.file is None:  # opened at the first line, so that an export refused early leaves no folder
            _route.path.parent.mkdir(parents=True, exist_ok=True)
            _route.file = _route.path.open("a", encoding="utf-8")
        _route.file.write(line)
    if _route.echo:
        sys.stderr.write(line)


def _install() -> None:
    if "callback" in _state:
        return
    import llama_cpp
    from llama_cpp import _logger  # importing it installs llama-cpp-python's callback, which ours replaces

    _state["original"] = _logger.llama_log_callback
    _state["callback"] = llama_cpp.llama_log_callback(_receive)
    llama_cpp.llama_log_set(_state["callback"], ctypes.c_void_p(0))


@contextlib.contextmanager
def llama_log_to(path: Path, echo: bool = False) -> Iterator[None]:
    """Within the block, llama.cpp's log lines are appended to `path`, and also printed when `echo`."""
    _install()
    before = (_route.path, _route.file, _route.echo, _route.active)
    _route.path, _route.file, _route.echo, _route.active = path, None, echo, True
    try:
        yield
    finally:
        if _route.file is not None:
            _route.file.close()
        _route.path, _route.file, _route.echo, _route.active = before


@contextlib.contextmanager
def tensor_progress(report: TensorProgress | None) -> Iterator[None]:
    """Within the block, each per-tensor line of llama.cpp (as quantizing writes them) calls `report`."""
    if report is None:
        yield
        return
    _install()
    before = _route.on_tensor
    _route.on_tensor = report
    try:
        yield
    finally:
        _route.on_tensor = before
