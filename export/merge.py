"""Merge a LoRA adapter into its base in float32, tensor by tensor, straight into a GGUF file."""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import errno
import itertools
import math
import mmap
import os
import queue
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, Literal

import gguf
import numpy as np
from pydantic import BaseModel

from export.errors import MergeError
from export.gguf_vocab import add_vocab
from export.inputs import AdapterInfo, BaseModelInfo

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
            raise MergeError(f"the base has a tensor llama.cpp does not know: {hf_name}", "unsupported variant")
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
_MAX_WORKERS = 4  # tensors merged at once; each holds at most one tensor's pages
_TORCH_DTYPES = {"BF16": "bfloat16", "F16": "float16", "F32": "float32"}


class _Window:
    """One tensor's bytes in a file, seen through its own memory map and closed when done.

    Through maps the merge reads the base's pages and writes the output's pages in place, with no
    intermediate buffers or copies; closing each map after its tensor keeps the process's resident
    memory near one tensor.
    """

    def __init__(self, fh: BinaryIO, start: int, nbytes: int, writable: bool) -> None:
        self._skip = start % mmap.ALLOCATIONGRANULARITY
        access = mmap.ACCESS_WRITE if writable else mmap.ACCESS_READ
        self._map = mmap.mmap(fh.fileno(), self._skip + nbytes, access=access, offset=start - self._skip)

    def tensor(self, dtype: Any, shape: list[int]) -> Any:
        import torch

        count = math.prod(shape)
        with warnings.catch_warnings():
            # Read-only maps are never written to; torch only warns that it could not tell.
            warnings.simplefilter("ignore", UserWarning)
            view = torch.frombuffer(self._map, dtype=dtype, count=count, offset=self._skip)
        return view.reshape(shape)

    def close(self) -> None:
        # While an exception unwinds, a view may still hold the map; it then goes with the process.
        with contextlib.suppress(BufferError):
            self._map.close()


def _allocate(fh: BinaryIO, size: int, out: Path) -> None:
    """Give the file its final size (zeros) with its disk space reserved up front.

    Writing through a map into space the disk does not have would kill the process (SIGBUS)
    instead of raising, so the space is claimed here, where running out is a clean error.
    """
    try:
        if hasattr(os, "posix_fallocate"):
            os.posix_fallocate(fh.fileno(), 0, size)
        else:
            fh.truncate(size)  # Windows (NTFS) allocates on extending the file
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise MergeError(
                f"not enough free disk for {out.name} ({size / 2**30:.1f} GiB) in {out.parent}",
                "free some space or choose another --out",
            ) from None
        if exc.errno in (errno.EOPNOTSUPP, errno.EINVAL):
            fh.truncate(size)  # a file system without fallocate
        else:
            raise


def _data_layout(writer: gguf.GGUFWriter, header_end: int) -> tuple[list[int], int]:
    """Absolute file offsets of the tensors (in info order) and the file size, as GGUF aligns them."""
    align = writer.data_alignment
    offset = gguf.GGUFWriter.ggml_pad(header_end, align)
    starts = []
    for info in writer.tensors[0].values():
        starts.append(offset)
        offset += gguf.GGUFWriter.ggml_pad(info.nbytes, align)
    return starts, offset


def _merge_into(out: Any, raw: Any, lora: tuple[Any, Any, float] | None, scratch: Any) -> None:
    """out = raw (+ scale * B @ A), computed in float32 a cache-sized block of rows at a time."""
    if raw.dim() == 1 or lora is None:
        out.copy_(raw)  # bf16 and f16 widen exactly; a plain copy converts in one pass
        return
    import torch

    a, b, scale = lora
    cols = raw.shape[1]
    step = max(1, _BLOCK_BYTES // (4 * cols))
    for i in range(0, raw.shape[0], step):
        rows = min(step, raw.shape[0] - i)
        block = scratch[0][: rows * cols].view(rows, cols)
        delta = scratch[1][: rows * cols].view(rows, cols)
        block.copy_(raw[i : i + rows])
        # Rounded as peft rounds it: (B @ A), then times the scale, then added to W.
        torch.mm(b[i : i + rows], a, out=delta)
        delta.mul_(scale)
        block.add_(delta)
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

    The metadata goes out through the `gguf` package's writer; each tensor is then read through a
    map of the base file, merged in cache-sized row blocks and converted straight into a map of its
    place in the output. The file is written as `<out>.partial` and renamed when complete, so an
    interrupted run leaves nothing under the final name.
    """
    import torch

    start = time.perf_counter()
    plan = _plan(base, out_type)
    tmp = partial_path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    handles: dict[Path, BinaryIO] = {}
    # One thread: the blocks are small, and torch's worker threads spin while they wait on a shared
    # machine (measured: 2 threads took 58-112 s and 1 thread 12 s for the 1.5B merge under load).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        starts, size = _write_header(tmp, base, plan, name, out_type)
        dest = handles[tmp] = tmp.open("r+b")
        _allocate(dest, size, out)
        for meta in base.tensors.values():
            if meta.dtype not in _TORCH_DTYPES:
                raise MergeError(
                    f"unsupported tensor type {meta.dtype} in {meta.file.name}", "use a bf16/fp16/fp32 base"
                )
            if meta.file not in handles:
                handles[meta.file] = meta.file.open("rb")
        workers = max(1, min(_MAX_WORKERS, os.cpu_count() or 1))
        merger = _Merger(base, adapter, dest, handles, workers)
        total = sum(math.prod(item.shape) * (4 if item.f32 else 2) for item in plan)
        _merge_in_pool(list(zip(plan, starts, strict=True)), merger.merge_one, workers, total, progress)
        for fh in handles.values():
            fh.close()
        os.replace(tmp, out)
    except BaseException:
        for fh in handles.values():
            fh.close()
        tmp.unlink(missing_ok=True)
        raise
    finally:
        torch.set_num_threads(threads)
    return MergeReport(
        path=out,
        out_type=out_type,
        tensors=len(plan),
        merged_tensors=sum(1 for item in plan if adapter is not None and item.hf_name in adapter.pairs),
        bytes=out.stat().st_size,
        seconds=time.perf_counter() - start,
    )


def _write_header(
    tmp: Path, base: BaseModelInfo, plan: list[_Planned], name: str, out_type: OutType
) -> tuple[list[int], int]:
    """Write the GGUF header, metadata and tensor infos; returns the tensors' offsets and the file size."""
    writer = gguf.GGUFWriter(tmp, base.arch)
    try:
        _add_metadata(writer, base, name, out_type)
        for item in plan:
            dtype = np.dtype(np.float32 if item.f32 else np.float16)
            writer.add_tensor_info(item.gguf_name, item.shape, dtype, math.prod(item.shape) * dtype.itemsize)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        assert writer.fout is not None
        writer.fout[0].flush()
        return _data_layout(writer, writer.fout[0].tell())
    finally:
        writer.close()


class _Merger:
    """Merges one planned tensor into its place in the output; several threads may call it at once."""

    def __init__(
        self,
        base: BaseModelInfo,
        adapter: AdapterInfo | None,
        dest: BinaryIO,
        handles: dict[Path, BinaryIO],
        workers: int,
    ) -> None:
        import torch

        self.base, self.adapter, self.dest, self.handles = base, adapter, dest, handles
        self.lora_tensors: dict[str, Any] = {}
        if adapter is not None:
            from safetensors.torch import load_file

            self.lora_tensors = load_file(str(adapter.file))  # a few MiB for a rank-8 adapter
        widest = max((s.shape[-1] for s in base.tensors.values()), default=1)
        # One pair of row-block buffers per worker, handed out and back for each tensor.
        self.scratch: queue.SimpleQueue[list[Any]] = queue.SimpleQueue()
        for _ in range(workers):
            self.scratch.put([torch.empty(max(_BLOCK_BYTES // 4, widest), dtype=torch.float32) for _ in range(2)])

    def merge_one(self, item: _Planned, offset: int) -> int:
        """Merge one tensor into its place in the output; returns the bytes written."""
        import torch

        meta = self.base.tensors[item.hf_name]
        pair = self.adapter.pairs.get(item.hf_name) if self.adapter else None
        lora = None
        if pair is not None:
            lora = (self.lora_tensors[pair.a_key].float(), self.lora_tensors[pair.b_key].float(), pair.scale)
        out_dtype = torch.float32 if item.f32 else torch.float16
        nbytes = math.prod(item.shape) * out_dtype.itemsize
        src = _Window(self.handles[meta.file], meta.start, meta.end - meta.start, writable=False)
        dst = _Window(self.dest, offset, nbytes, writable=True)
        buffers = self.scratch.get()
        try:
            raw = src.tensor(getattr(torch, _TORCH_DTYPES[meta.dtype]), meta.shape)
            target = dst.tensor(out_dtype, meta.shape)
            _merge_into(target, raw, lora, buffers)
            del raw, target
        finally:
            self.scratch.put(buffers)
            src.close()
            dst.close()
        return nbytes


def _merge_in_pool(
    jobs: list[tuple[_Planned, int]],
    merge_one: Callable[[_Planned, int], int],
    workers: int,
    total: int,
    progress: ProgressFn | None,
) -> None:
    """Run the merge jobs on a thread pool, at most one tensor per worker in flight, reporting bytes done."""
    done = 0
    # Tensors go to their own places in the file, so several can be merged at once: torch and
    # the kernel's page work run without the GIL.
    with concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="merge") as pool:
        pending: collections.deque[concurrent.futures.Future[int]] = collections.deque()
        queued = iter(jobs)
        try:
            for first in itertools.islice(queued, workers):
                pending.append(pool.submit(merge_one, *first))
            while pending:
                done += pending.popleft().result()
                if (job := next(queued, None)) is not None:
                    pending.append(pool.submit(merge_one, *job))
                if progress is not None:
                    progress(done, total)
        except BaseException:
            for future in pending:
                future.cancel()
            concurrent.futures.wait(pending)
            raise
