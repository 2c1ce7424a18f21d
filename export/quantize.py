"""Quantize a GGUF file with llama.cpp (through llama-cpp-python), on all cores."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from export.errors import QuantizeError
from export.llama_log import TensorProgress, tensor_progress

Quant = Literal["Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0", "F16"]
QUANTS: tuple[Quant, ...] = ("Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0", "F16")


class QuantizeReport(BaseModel):
    """The quantized file and what it cost."""

    path: Path
    quant: Quant
    bytes: int
    seconds: float
    threads: int


def quantize_gguf(
    src: Path, dst: Path, quant: Quant, threads: int | None = None, progress: TensorProgress | None = None
) -> QuantizeReport:
    """Write `dst` as `quant` from the F16/F32 GGUF `src`; `<dst>.partial` until complete.

    `progress` gets (tensors done, tensors) as llama.cpp's per-tensor log lines come.
    """
    import llama_cpp

    if quant not in QUANTS:
        raise QuantizeError(f"unknown quantization {quant!r}", f"use one of {', '.join(QUANTS)}")
    threads = threads or os.cpu_count() or 1
    params = llama_cpp.llama_model_quantize_default_params()
    params.nthread = threads
    params.ftype = getattr(llama_cpp, "LLAMA_FTYPE_MOSTLY_" + quant)
    tmp = dst.with_name(dst.name + ".partial")
    start = time.perf_counter()
    try:
        with tensor_progress(progress):
            code = llama_cpp.llama_model_quantize(str(src).encode(), str(tmp).encode(), params)
        if code != 0:
            raise QuantizeError(
                f"llama.cpp could not quantize {src.name} to {quant} (code {code})",
                "see the export log (export.log in the output folder), or rerun with --verbose",
            )
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
    return QuantizeReport(
        path=dst, quant=quant, bytes=dst.stat().st_size, seconds=time.perf_counter() - start, threads=threads
    )
