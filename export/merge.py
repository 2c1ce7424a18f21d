"""Merge a LoRA adapter into its base in float32, tensor by tensor, straight into a GGUF file."""

from __future__ import annotations

import contextlib
import mmap
import os
import queue
import threading
import time
import warnings
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


# Rows are merged in blocks of about this many float32 bytes: small enough that the bf16 -> f32 ->
# (+ B @ A) -> f16 passes over a block stay in the CPU cache instead of going out to memory.
_BLOCK_BYTES = 1 << 20
# Finished tensors wait for the writer thread up to about this many bytes (memory stays bounded).
_QUEUE_BYTES = 512 << 20


class _Source:
    """Base tensors read through a memory map: no copy on the way in, pages let go once a tensor is done."""

    _DTYPES = ("BF16", "F16", "F32")

    def __init__(self) -> None:
        self._maps: dict[Path, tuple[Any, mmap.mmap]] = {}

    def tensor(self, meta: TensorMeta) -> Any:
        import torch

        if meta.dtype not in self._DTYPES:
            raise ExportInputError(
                f"unsupported tensor type {meta.dtype} in {meta.file.name}", "use a bf16/fp16/fp32 base"
            )
        mm = self._map(meta.file)
        dtype = {"BF16": torch.bfloat16, "F16": torch.float16, "F32": torch.float32}[meta.dtype]
        count = (meta.end - meta.start) // dtype.itemsize
        with warnings.catch_warnings():
            # The map is read-only and nothing writes to it; torch only warns that it could not.
            warnings.simplefilter("ignore", UserWarning)
            return torch.frombuffer(mm, dtype=dtype, count=count, offset=meta.start).reshape(meta.shape)

    def prefetch(self, meta: TensorMeta) -> None:
        """Ask the kernel to start reading the next tensor while this one is merged."""
        self._advise(meta, getattr(mmap, "MADV_WILLNEED", None))

    def release(self, meta: TensorMeta) -> None:
        """Drop a finished tensor's pages from this process (they stay in the page cache)."""
        self._advise(meta, getattr(mmap, "MADV_DONTNEED", None))

    def close(self) -> None:
        for fh, mm in self._maps.values():
            # A view may still be alive while an exception unwinds; the map then goes with the process.
            with contextlib.suppress(BufferError):
                mm.close()
            fh.close()
        self._maps.clear()

    def _map(self, path: Path) -> mmap.mmap:
        if path not in self._maps:
            fh = path.open("rb")
            self._maps[path] = (fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ))
        return self._maps[path][1]

    def _advise(self, meta: TensorMeta, option: int | None) -> None:
        if option is None or not hasattr(mmap.mmap, "madvise"):
            return  # Windows: no madvise; the system trims the working set itself
        mm = self._map(meta.file)
        start = meta.start - meta.start % mmap.PAGESIZE
        mm.madvise(option, start, meta.end - start)


class _BackgroundWriter:
    """Writes finished tensors to the GGUF in a thread, so disk writes overlap the next tensor's merge."""

    def __init__(self, writer: _Writer) -> None:
        self._writer = writer
        self._queue: queue.Queue[Any] = queue.Queue()
        self._room = threading.Semaphore(max(1, _QUEUE_BYTES >> 20))
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="gguf-writer", daemon=True)
        self._thread.start()

    def put(self, tensor: Any) -> None:
        """Queue a tensor (numpy array) for writing; waits while too many bytes are queued."""
        units = self._units(tensor)
        for _ in range(units):
            self._room.acquire()
            self._raise()
        self._queue.put(tensor)

    def finish(self, abort: bool = False) -> None:
        """Wait until everything queued is written (or drop it when aborting); re-raises a writer error."""
        if abort:
            self._error = self._error or _Aborted()
        self._queue.put(None)
        self._thread.join()
        if not abort:
            self._raise()

    def _raise(self) -> None:
        if self._error is not None and not isinstance(self._error, _Aborted):
            raise self._error

    @staticmethod
    def _units(tensor: Any) -> int:
        return min(max(1, _QUEUE_BYTES >> 20), max(1, int(tensor.nbytes) >> 20))

    def _run(self) -> None:
        while (tensor := self._queue.get()) is not None:
            try:
                if self._error is None:
                    self._writer.write_tensor_data(tensor)
            except BaseException as exc:  # handed to the merging thread, which raises it
                self._error = exc
            finally:
                for _ in range(self._units(tensor)):
                    self._room.release()
                del tensor


class _Aborted(Exception):
    """The merge stopped; the writer drops what is still queued."""


def _merge_into(out: Any, raw: Any, lora: tuple[Any, Any, float] | None, scratch: Any) -> None:
    """out = raw (+ scale * B @ A), computed in float32 a cache-sized block of rows at a time."""
    if raw.dim() == 1 or lora is None:
        out.copy_(raw)  # bf16 and f16 widen exactly; a plain copy converts in one pass
        return
    a, b, scale = lora
    step = max(1, _BLOCK_BYTES // (4 * raw.shape[1]))
    for i in range(0, raw.shape[0], step):
        rows = min(step, raw.shape[0] - i)
        block = scratch[: rows * raw.shape[1]].view(rows, raw.shape[1])
        block.copy_(raw[i : i + rows])
        block.addmm_(b[i : i + rows], a, alpha=scale)
        out[i : i + rows].copy_(block)


def write_merged_gguf(
    base: BaseModelInfo,
    adapter: AdapterInfo | None,
    out: Path,
    out_type: OutType = "F16",
    name: str = "model",
    progress: ProgressFn | None = None,
) -> MergeReport:
    """Stream base tensors through W + scale * B @ A (float32) into `out`, one tensor at a time.

    Tensors are read through a memory map, merged in cache-sized row blocks and handed to a writer
    thread, so reading, merging and writing overlap while memory stays near a few tensors. The file
    is written as `<out>.partial` and renamed when complete, so an interrupted run leaves nothing
    under the final name.
    """
    import torch

    start = time.perf_counter()
    plan = _plan(base, out_type)
    tmp = partial_path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = _Writer(tmp, base.arch)
    source = _Source()
    background: _BackgroundWriter | None = None
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
        widest = max((s.shape[-1] for s in base.tensors.values()), default=1)
        scratch = torch.empty(max(_BLOCK_BYTES // 4, widest), dtype=torch.float32)
        background = _BackgroundWriter(writer)
        done = merged = 0
        for index, item in enumerate(plan):
            meta = base.tensors[item.hf_name]
            if index + 1 < len(plan):
                source.prefetch(base.tensors[plan[index + 1].hf_name])
            raw = source.tensor(meta)
            pair = adapter.pairs.get(item.hf_name) if adapter else None
            lora = None
            if pair is not None:
                a, b = lora_tensors[pair.a_key].float(), lora_tensors[pair.b_key].float()
                lora = (a, b, pair.scale)
                merged += 1
            merged_tensor = torch.empty(raw.shape, dtype=torch.float32 if item.f32 else torch.float16)
            _merge_into(merged_tensor, raw, lora, scratch)
            del raw
            source.release(meta)
            background.put(merged_tensor.numpy())
            done += merged_tensor.numel() * merged_tensor.element_size()
            del merged_tensor
            if progress is not None:
                progress(done, total)
        background.finish()
        background = None
        writer.close()
        os.replace(tmp, out)
    except BaseException:
        if background is not None:
            background.finish(abort=True)
        writer.close()
        tmp.unlink(missing_ok=True)
        raise
    finally:
        source.close()
    return MergeReport(
        path=out,
        out_type=out_type,
        tensors=len(plan),
        merged_tensors=merged,
        bytes=out.stat().st_size,
        seconds=time.perf_counter() - start,
    )
