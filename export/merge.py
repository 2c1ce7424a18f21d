"""Merge a LoRA adapter into its base in float32, tensor by tensor, straight into a GGUF file."""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import gguf
import numpy as np
from pydantic import BaseModel

from export.gguf_vocab import add_vocab
from export.inputs import AdapterInfo, BaseModelInfo, ExportInputError, TensorMeta

OutType = Literal["F32", "F16"]
ARCHS = {"qwen2": gguf.MODEL_ARCH.QWEN2, "llama": gguf.MODEL_ARCH.LLAMA}
_FILE_TYPE = {"F32": gguf.LlamaFileType.ALL_F32, "F16": gguf.LlamaFileType.MOSTLY_F16}

# Called after each tensor with (bytes written so far, total bytes).
ProgressFn = Callable[[int, int], None]


class MergeReport(BaseModel):
    """What the streaming merge wrote."""

    path: Path
    out_type: OutType
    tensors: int
    merged_tensors: int
    bytes: int
    seconds: float


class _Planned(BaseModel):
    hf_name: str
    gguf_name: str
    shape: list[int]
    f32: bool


class _Writer(gguf.GGUFWriter):
    """GGUFWriter whose tensor data goes out through file.write: numpy's tofile runs at a quarter of the speed."""

    def write_tensor_data(self, tensor: np.ndarray[Any, Any], tensor_endianess: Any = None) -> None:
        if self.state not in (gguf.gguf_writer.WriterState.TI_DATA, gguf.gguf_writer.WriterState.WEIGHTS):
            raise ValueError(f"expected tensor info or weights to be written already, got {self.state}")
        assert self.fout is not None
        fout = self.fout[0]
        info = self.tensors[0].pop(next(iter(self.tensors[0])))
        if info.nbytes != tensor.nbytes:
            raise ValueError(f"tensor of {tensor.nbytes} bytes where {info.nbytes} were announced")
        self.write_padding(fout, fout.tell())
        fout.write(np.ascontiguousarray(tensor).tobytes() if tensor.nbytes < 1 << 20 else _bytes_view(tensor))
        self.write_padding(fout, tensor.nbytes)
        self.state = gguf.gguf_writer.WriterState.WEIGHTS


def _bytes_view(tensor: np.ndarray[Any, Any]) -> memoryview:
    """The array's bytes without a copy."""
    return memoryview(np.ascontiguousarray(tensor).reshape(-1).view(np.uint8))  # type: ignore[arg-type]


def partial_path(path: Path) -> Path:
    """The temporary name a file is written under until it is complete."""
    return path.with_name(path.name + ".partial")


def _plan(base: BaseModelInfo, out_type: OutType) -> list[_Planned]:
    names = gguf.get_tensor_name_map(ARCHS[base.arch], base.layers)
    plan = []
    for hf_name, meta in base.tensors.items():
        if hf_name == "lm_head.weight" and base.tied_embeddings:
            continue  # llama.cpp reuses token_embd when output.weight is absent
        gguf_name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if gguf_name is None:
            raise ExportInputError(f"the base has a tensor llama.cpp does not know: {hf_name}", "unsupported variant")
        # Norms and biases stay float32, as llama.cpp's converter keeps them.
        plan.append(
            _Planned(
                hf_name=hf_name, gguf_name=gguf_name, shape=meta.shape, f32=out_type == "F32" or len(meta.shape) == 1
            )
        )
    return plan


def _add_metadata(writer: gguf.GGUFWriter, base: BaseModelInfo, name: str, out_type: OutType) -> None:
    writer.add_name(name)
    writer.add_context_length(base.context)
    writer.add_embedding_length(base.hidden)
    writer.add_block_count(base.layers)
    writer.add_feed_forward_length(base.intermediate)
    writer.add_head_count(base.heads)
    writer.add_head_count_kv(base.kv_heads)
    writer.add_rope_freq_base(base.rope_theta)
    writer.add_layer_norm_rms_eps(base.rms_eps)
    writer.add_file_type(_FILE_TYPE[out_type])
    add_vocab(writer, base.path, base.vocab, base.arch)


_BLOCK_BYTES = 64 << 20  # rows are merged and converted in blocks of about this many float32 bytes


def _read_tensor(fh: io.BufferedReader, meta: TensorMeta) -> Any:
    """One tensor read with plain file reads: no memory map, so finished tensors leave no resident pages."""
    import torch

    dtypes = {"BF16": torch.bfloat16, "F16": torch.float16, "F32": torch.float32}
    if meta.dtype not in dtypes:
        raise ExportInputError(f"unsupported tensor type {meta.dtype} in {meta.file.name}", "use a bf16/fp16/fp32 base")
    buf = bytearray(meta.end - meta.start)
    fh.seek(meta.start)
    fh.readinto(buf)
    return torch.frombuffer(buf, dtype=dtypes[meta.dtype]).reshape(meta.shape)


def _merge_into(out: Any, raw: Any, lora: tuple[Any, Any, float] | None) -> None:
    """out = raw (+ scale * B @ A), computed in float32 a block of rows at a time."""
    import torch

    if raw.dim() == 1:
        out.copy_(raw.to(torch.float32))
        return
    step = max(1, _BLOCK_BYTES // (4 * raw.shape[1]))
    for i in range(0, raw.shape[0], step):
        block = raw[i : i + step].to(torch.float32)
        if lora is not None:
            a, b, scale = lora
            block.addmm_(b[i : i + step], a, alpha=scale)
        out[i : i + step].copy_(block)


def write_merged_gguf(
    base: BaseModelInfo,
    adapter: AdapterInfo | None,
    out: Path,
    out_type: OutType = "F16",
    name: str = "model",
    progress: ProgressFn | None = None,
) -> MergeReport:
    """Stream base tensors through W + scale * B @ A (float32) into `out`; only one tensor is in memory at a time.

    The file is written as `<out>.partial` and renamed when complete, so an interrupted run leaves
    nothing under the final name.
    """
    import torch

    start = time.perf_counter()
    plan = _plan(base, out_type)
    tmp = partial_path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = _Writer(tmp, base.arch)
    try:
        _add_metadata(writer, base, name, out_type)
        total = 0
        for item in plan:
            dtype = np.dtype(np.float32 if item.f32 else np.float16)
            nbytes = int(np.prod(item.shape)) * dtype.itemsize
            writer.add_tensor_info(item.gguf_name, item.shape, dtype, nbytes)
            total += nbytes
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        lora_tensors: dict[str, Any] = {}
        if adapter is not None:
            from safetensors.torch import load_file

            lora_tensors = load_file(str(adapter.file))  # a few MiB for a rank-8 adapter
        done = merged = 0
        handles: dict[Path, io.BufferedReader] = {}
        try:
            for item in plan:
                meta = base.tensors[item.hf_name]
                if meta.file not in handles:
                    handles[meta.file] = meta.file.open("rb")
                raw = _read_tensor(handles[meta.file], meta)
                pair = adapter.pairs.get(item.hf_name) if adapter else None
                lora = None
                if pair is not None:
                    a, b = lora_tensors[pair.a_key].float(), lora_tensors[pair.b_key].float()
                    lora = (a, b, pair.scale)
                    merged += 1
                merged_tensor = torch.empty(raw.shape, dtype=torch.float32 if item.f32 else torch.float16)
                _merge_into(merged_tensor, raw, lora)
                writer.write_tensor_data(merged_tensor.numpy())
                done += merged_tensor.numel() * merged_tensor.element_size()
                del raw, merged_tensor
                if progress is not None:
                    progress(done, total)
        finally:
            for fh in handles.values():
                fh.close()
        writer.close()
        os.replace(tmp, out)
    except BaseException:
        writer.close()
        tmp.unlink(missing_ok=True)
        raise
    return MergeReport(
        path=out,
        out_type=out_type,
        tensors=len(plan),
        merged_tensors=merged,
        bytes=out.stat().st_size,
        seconds=time.perf_counter() - start,
    )
