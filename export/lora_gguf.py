"""Write a peft LoRA adapter as a llama.cpp LoRA GGUF, the form Ollama's ADAPTER and llama.cpp load."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Literal

import gguf
import numpy as np
from pydantic import BaseModel

from export.errors import MergeError
from export.inputs import AdapterInfo, BaseModelInfo
from export.merge import ARCHS, partial_path

# llama.cpp pairs `<base tensor>.lora_a` with `<base tensor>.lora_b` and adds scale * B @ A to that tensor.
LORA_A_SUFFIX = ".lora_a"
LORA_B_SUFFIX = ".lora_b"
#: How the matrices are stored: f32 keeps peft's values exactly; f16 halves the file and its memory (llama.cpp
#: loads either), rounding each value to half precision.
LoraType = Literal["F32", "F16"]
_NUMPY = {"F32": np.float32, "F16": np.float16}


class LoraGgufReport(BaseModel):
    """What the LoRA GGUF holds."""

    path: Path
    pairs: int
    alpha: float
    bytes: int
    seconds: float


def gguf_alpha(adapter: AdapterInfo) -> float:
    """The `adapter.lora.alpha` that makes llama.cpp's scale (alpha / rank) equal peft's, rsLoRA included."""
    scales = {p.scale for p in adapter.pairs.values()}
    if len(scales) != 1:
        raise MergeError("the adapter's modules have different scales", "use one r and lora_alpha")
    return scales.pop() * adapter.rank


def lora_tensor_names(base: BaseModelInfo, hf_weight: str) -> tuple[str, str]:
    """The GGUF names of the A and B matrices that update the base weight `hf_weight`."""
    name = gguf.get_tensor_name_map(ARCHS[base.arch], base.layers).get_name(hf_weight, try_suffixes=(".weight",))
    if name is None:
        raise MergeError(f"llama.cpp has no tensor for {hf_weight}", "the adapter targets an unsupported module")
    return name + LORA_A_SUFFIX, name + LORA_B_SUFFIX


def write_lora_gguf(
    base: BaseModelInfo, adapter: AdapterInfo, out: Path, name: str = "adapter", lora_type: LoraType = "F32"
) -> LoraGgufReport:
    """Write the adapter's A and B matrices (`lora_type`, peft's layout) with the LoRA metadata llama.cpp checks.

    llama.cpp wants `general.type` = adapter, the base's architecture, `adapter.type` = lora and
    `adapter.lora.alpha`; A keeps peft's [rank, in] and B its [out, rank] shape, which in GGUF's
    reversed order is what its loader validates against the base tensor.
    """
    from safetensors.torch import load_file

    start = time.perf_counter()
    alpha = gguf_alpha(adapter)
    tensors: dict[str, Any] = load_file(str(adapter.file))  # a few MiB for a rank-8 adapter
    tmp = partial_path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(tmp, base.arch)
    try:
        writer.add_type(gguf.GGUFType.ADAPTER)
        writer.add_name(name)
        writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
        writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
        for hf_weight, pair in sorted(adapter.pairs.items()):
            a_name, b_name = lora_tensor_names(base, hf_weight)
            for key, tensor_name in ((pair.a_key, a_name), (pair.b_key, b_name)):
                values = tensors[key].float().numpy().astype(_NUMPY[lora_type])
                writer.add_tensor(tensor_name, np.ascontiguousarray(values))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(tmp, out)
    except BaseException:
        writer.close()
        tmp.unlink(missing_ok=True)
        raise
    return LoraGgufReport(
        path=out,
        pairs=len(adapter.pairs),
        alpha=alpha,
        bytes=out.stat().st_size,
        seconds=time.perf_counter() - start,
    )
