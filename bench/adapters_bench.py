#!/usr/bin/env python3
"""Many LoRAs on one base against merged models (issue #18): resident memory, adapter switch time, tokens/s.

    .venv/bin/python bench/adapters_bench.py --size small     # a 12-layer Qwen2 with Qwen's 151,936 vocab; minutes
    .venv/bin/python bench/adapters_bench.py --size 1.5b      # Qwen2.5-1.5B shapes; much longer, ~6 GB of RAM

A random Qwen2 base (bf16, tests/support/synthetic_models.py) and a random rank-8 adapter on all seven
projections are exported the way `synapse export` does: the base to F16 then Q4_K_M, the adapter to an f32
LoRA GGUF, the merged model to F16 then Q4_K_M. The LoRA and the merged model are copied to 16 files: the
content does not change what they cost, and llama.cpp loads each file on its own (nothing is shared).

- memory: resident set (VmRSS) of a fresh process after loading and decoding 8 tokens with each model or
  adapter, minus that process's RSS before loading; 1, 4 and 16 adapters on one base against 1, 4 and 16
  merged models (--max-merged caps the merged count; the table then says "not run").
- switch: per-token decode time alternating two adapters against staying on one (llama.cpp re-plans its
  graph after a change, the engine switches at most once per step and adapter group).
- tokens/s: one greedy stream of 64 tokens with the adapter against the merged model, through BatchEngine.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
COUNTS = (1, 4, 16)

PREPARE = """
import sys; from pathlib import Path
from tests.support.synthetic_models import QWEN25_1_5B, Qwen2Shape, build_random_lora, build_random_qwen2
from export.inputs import inspect_adapter, inspect_base
from export.lora_gguf import write_lora_gguf
from export.merge import write_merged_gguf
from export.quantize import quantize_gguf
size, out = sys.argv[1], Path(sys.argv[2])
small = Qwen2Shape(hidden=768, intermediate=2048, layers=12, heads=12, kv_heads=2, vocab_target=4096,
                   vocab_size=151_936, tie_embeddings=True)
shape = QWEN25_1_5B if size == "1.5b" else small
base_dir = build_random_qwen2(out / "hf-base", shape, dtype="bfloat16")
adapter_dir = build_random_lora(base_dir, out / "hf-adapter")
base = inspect_base(base_dir)
adapter = inspect_adapter(adapter_dir, base)
write_merged_gguf(base, None, out / "base-f16.gguf", "F16", "base")
quantize_gguf(out / "base-f16.gguf", out / "base-q4km.gguf", "Q4_K_M")
write_lora_gguf(base, adapter, out / "lora.gguf", "bench")
write_merged_gguf(base, adapter, out / "merged-f16.gguf", "F16", "merged")
quantize_gguf(out / "merged-f16.gguf", out / "merged-q4km.gguf", "Q4_K_M")
for f in ("base-f16.gguf", "merged-f16.gguf"):
    (out / f).unlink()
"""

MEMORY = """
import json, sys; from pathlib import Path
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
from synapse.llm.batch import NativeModel, Placement, Shape
kind, n, work = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
shape = Shape(n_seq=1, n_ctx_seq=256)
import llama_cpp  # the library itself is not what is measured
before = rss()
def touch(native, adapter=None):
    native.use_adapter(adapter)
    native.free_sequence(0)
    native.decode([(t, i, 0, i == 7) for i, t in enumerate(range(100, 108))])
models = []
if kind == "adapters":
    loras = tuple((f"a{i}", work / f"lora-{i}.gguf") for i in range(n))
    native = NativeModel(work / "base-q4km.gguf", shape, Placement(loras=loras))
    for name, _ in loras:
        touch(native, name)
    models.append(native)
else:
    for i in range(n):
        native = NativeModel(work / f"merged-{i}.gguf", shape)
        touch(native)
        models.append(native)
print(json.dumps({"rss": rss() - before}))
"""

SWITCH = """
import json, sys, time; from pathlib import Path
from synapse.llm.batch import NativeModel, Placement, Shape
work, steps = Path(sys.argv[1]), int(sys.argv[2])
native = NativeModel(work / "base-q4km.gguf", Shape(n_seq=1, n_ctx_seq=1024),
                     Placement(loras=(("a", work / "lora-0.gguf"), ("b", work / "lora-1.gguf"))))
def run(alternate):
    native.free_sequence(0)
    native.use_adapter("a")
    native.decode([(100, 0, 0, True)])
    start = time.perf_counter()
    for pos in range(1, steps + 1):
        if alternate:
            native.use_adapter("b" if pos % 2 else "a")
        native.decode([(100 + pos % 50, pos, 0, True)])
    return (time.perf_counter() - start) / steps * 1000
same, alt = [], []
for _ in range(3):
    same.append(run(False)); alt.append(run(True))
print(json.dumps({"same_ms": min(same), "alternating_ms": min(alt), "switches": native.switches}))
"""

SPEED = """
import asyncio, json, sys, time; from pathlib import Path
from synapse.llm.batch import BatchEngine, NativeModel, Placement, SequenceRequest, Shape
kind, work = sys.argv[1], Path(sys.argv[2])
if kind == "adapter":
    native = NativeModel(work / "base-q4km.gguf", Shape(n_seq=1, n_ctx_seq=512),
                         Placement(loras=(("a", work / "lora-0.gguf"),)))
    adapter = "a"
else:
    native, adapter = NativeModel(work / "merged-0.gguf", Shape(n_seq=1, n_ctx_seq=512)), None
engine = BatchEngine(native)
prompt = tuple(range(100, 140))
async def timed(n):
    # Random weights sample byte fragments that decode to no text, so time the whole generation instead of
    # its streamed pieces: 65 tokens minus 1 token is 64 decode steps without the prefill.
    start = time.perf_counter()
    stream = engine.submit(SequenceRequest(prompt, max_tokens=n, adapter=adapter))
    await stream.text()
    assert len(stream.tokens) == n or stream.finish_reason == "stop", stream.finish_reason
    return time.perf_counter() - start, len(stream.tokens)
async def once():
    t1, _ = await timed(1)
    t65, n = await timed(65)
    return (n - 1) / (t65 - t1)
rates = [asyncio.run(once()) for _ in range(3)]
engine.close()
print(json.dumps({"tokens_per_s": max(rates)}))
"""


def _py(script: str, *args: object) -> dict[str, float]:
    out = subprocess.run(
        [PY, "-c", script, *map(str, args)], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _prepare(size: str, work: Path, console: Console) -> None:
    if not (work / "merged-q4km.gguf").is_file():
        console.print(f"building a random {size} base, a rank-8 adapter and their GGUFs in {work} ...")
        subprocess.run([PY, "-c", PREPARE, size, str(work)], cwd=ROOT, check=True, capture_output=True)
    for i in range(max(COUNTS)):
        for src, dst in (("lora.gguf", f"lora-{i}.gguf"), ("merged-q4km.gguf", f"merged-{i}.gguf")):
            if not (work / dst).exists():
                shutil.copyfile(work / src, work / dst)


def _mb(n: float) -> str:
    return f"{n / 2**20:,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=("small", "1.5b"), default="small")
    parser.add_argument("--work", type=Path, default=None, help="keep the built files here (reused next time)")
    parser.add_argument("--max-merged", type=int, default=16, help="merged models loaded at most at once")
    parser.add_argument("--switch-steps", type=int, default=200)
    args = parser.parse_args()
    console = Console()
    work = args.work or Path(tempfile.gettempdir()) / f"adapters-bench-{args.size}"
    work.mkdir(parents=True, exist_ok=True)
    _prepare(args.size, work, console)
    sizes = {f: (work / f).stat().st_size for f in ("base-q4km.gguf", "lora.gguf", "merged-q4km.gguf")}
    console.print(
        f"files: base Q4_K_M {_mb(sizes['base-q4km.gguf'])} MB, LoRA f32 {_mb(sizes['lora.gguf'])} MB, "
        f"merged Q4_K_M {_mb(sizes['merged-q4km.gguf'])} MB"
    )
    memory = Table(title=f"Resident memory ({args.size})")
    for column in ("models", "adapters on one base, MB", "merged models, MB", "adapters / one merged"):
        memory.add_column(column, justify="right")
    one_merged = None
    for n in COUNTS:
        adapters = _py(MEMORY, "adapters", n, work)["rss"]
        merged = _py(MEMORY, "merged", n, work)["rss"] if n <= args.max_merged else None
        one_merged = one_merged or merged
        ratio = f"{adapters / one_merged:.2f}x" if one_merged else "-"
        memory.add_row(str(n), _mb(adapters), _mb(merged) if merged is not None else "not run", ratio)
    console.print(memory)
    switch = _py(SWITCH, work, args.switch_steps)
    per_switch = switch["alternating_ms"] - switch["same_ms"]
    console.print(
        f"decode step, one adapter: {switch['same_ms']:.2f} ms; alternating two: {switch['alternating_ms']:.2f} ms; "
        f"cost of a switch: {per_switch:.2f} ms"
    )
    with_adapter = _py(SPEED, "adapter", work)["tokens_per_s"]
    merged_speed = _py(SPEED, "merged", work)["tokens_per_s"]
    console.print(
        f"tokens/s, one stream: adapter {with_adapter:.1f}, merged {merged_speed:.1f} "
        f"({with_adapter / merged_speed:.2f}x)"
    )


if __name__ == "__main__":
    main()
