#!/usr/bin/env python3
"""Many LoRAs on one base against merged models (issue #18): resident memory, adapter switch time, tokens/s.

    .venv/bin/python bench/adapters_bench.py --size small     # a 12-layer Qwen2 with Qwen's 151,936 vocab; minutes
    .venv/bin/python bench/adapters_bench.py --size 1.5b      # Qwen2.5-1.5B shapes; much longer, ~6 GB of RAM

A random Qwen2 base (bf16, tests/support/synthetic_models.py) and a random rank-8 adapter on all seven
projections are exported the way `synapse export` does: the base to F16 then Q4_K_M, the adapter to a LoRA
GGUF in f32 and in f16 (`--lora-type`), the merged model to F16 then Q4_K_M. The LoRAs and the merged model
are copied to 16 files each: the content does not change what they cost, and llama.cpp loads each file on
its own (nothing is shared).

- memory: resident set (VmRSS) of a fresh process after loading and decoding 8 tokens with each model or
  adapter, minus that process's RSS before loading; 1, 4 and 16 adapters on one base (in one context, and
  in a context each up to 4, SYNAPSE_ADAPTER_CONTEXTS' default) against 1, 4 and 16 merged models
  (--max-merged caps the merged count; the table then says "not run"). Every context here holds one
  sequence of 256 cells.
- switch: a decode step right after switching adapters against one on the adapter already applied, in
  interleaved pairs, medians (llama.cpp re-plans its graph after a change; the engine switches at most once
  per step and adapter group).
- a context per adapter (what the engine does up to SYNAPSE_ADAPTER_CONTEXTS): a decode step on the other
  adapter's context right after one on the first's, against two on the same, in pairs, medians; and the
  memory one more context adds at --n-seq x --n-ctx cells (SYNAPSE's defaults: 4 x 4096).
- tokens/s: one greedy stream of 64 tokens with the adapter against the merged model, through BatchEngine,
  in --pairs back-to-back pairs (the order alternating); the ratio is the median of the pairs' ratios, which
  cancels most of a shared machine's drift (one model alone moves by 20-30% between runs here). --streams N
  runs N such streams at once on each engine (many agents; each step decodes N tokens). --threads
  sets the decode threads (default: SYNAPSE's, half the cores for one token). llama.cpp adds 4 graph nodes
  per adapted projection, and with more than one thread each node ends in a barrier, so how the OpenMP
  threads wait there matters (synapse/llm/openmp.py): --wait runs the tokens/s figures under each of
  `passive` (OMP_WAIT_POLICY=PASSIVE, GOMP_SPINCOUNT=0: sleep at once, SYNAPSE's choice before 2026-12-04) and
  N (spin N rounds, then sleep; SYNAPSE spins 1000). The bench's two engines are two OpenMP teams, which
  libgomp stops spinning for where their threads outnumber the cores, while SYNAPSE decodes a model in one:
  so N here is OMP_WAIT_POLICY=ACTIVE with GOMP_SPINCOUNT=N, which spins N rounds either way.
  --raw-steps pairs single llama_decode steps the same way, without the engine, tokens/s' ratio as the
  median of the pairs' (merged ms / adapter ms).
"""

from __future__ import annotations

import argparse
import json
import os
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
TYPES = ("F32", "F16")

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
write_lora_gguf(base, adapter, out / "lora-F32.gguf", "bench")
write_lora_gguf(base, adapter, out / "lora-F16.gguf", "bench", lora_type="F16")
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
def touch(native, adapter=None, lane=0):
    native.use_adapter(adapter, lane)
    native.free_sequence(lane)
    native.decode([(t, i, lane, i == 7) for i, t in enumerate(range(100, 108))])
models = []
if kind.startswith(("adapters", "contexts")):
    lora_type = kind.split("-")[1]
    loras = tuple((f"a{i}", work / f"lora-{lora_type}-{i}.gguf") for i in range(n))
    lanes = min(n, 4) if kind.startswith("contexts") else 1  # SYNAPSE_ADAPTER_CONTEXTS' default
    native = NativeModel(work / "base-q4km.gguf", Shape(n_seq=1, n_ctx_seq=256, contexts=lanes), Placement(loras=loras))
    for i, (name, _) in enumerate(loras):
        if i >= native.n_lanes and i < lanes:
            native.add_lane()
        touch(native, name, min(i, lanes - 1))
    models.append(native)
else:
    for i in range(n):
        native = NativeModel(work / f"merged-{i}.gguf", shape)
        touch(native)
        models.append(native)
print(json.dumps({"rss": rss() - before}))
"""

SWITCH = """
import json, statistics, sys, time; from pathlib import Path
from synapse.llm.batch import NativeModel, Placement, Shape
work, steps, lora_type = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
loras = (("a", work / f"lora-{lora_type}-0.gguf"), ("b", work / f"lora-{lora_type}-1.gguf"))
native = NativeModel(work / "base-q4km.gguf", Shape(n_seq=1, n_ctx_seq=2048), Placement(loras=loras))
native.use_adapter("a")
native.decode([(100, 0, 0, True)])
same, switched = [], []
pos = 1
for i in range(steps):  # pairs: a decode on the applied adapter, then one right after a switch
    for out, change in ((same, False), (switched, True)):
        if pos >= 2000:
            native.free_sequence(0)
            pos = 0
        start = time.perf_counter()
        if change:
            native.use_adapter("b" if native.adapter_of(0) == "a" else "a")
        native.decode([(100 + pos % 50, pos, 0, True)])
        out.append((time.perf_counter() - start) * 1000)
        pos += 1
print(json.dumps({"same_ms": statistics.median(same), "alternating_ms": statistics.median(switched)}))
"""

CONTEXTS = """
import json, statistics, sys, time; from pathlib import Path
from synapse.llm.batch import NativeModel, Placement, Shape
work, steps, lora_type = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
n_seq, n_ctx = int(sys.argv[4]), int(sys.argv[5])
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
loras = (("a", work / f"lora-{lora_type}-0.gguf"), ("b", work / f"lora-{lora_type}-1.gguf"))
native = NativeModel(work / "base-q4km.gguf", Shape(n_seq=n_seq, n_ctx_seq=n_ctx, contexts=2), Placement(loras=loras))
native.use_adapter("a", 0)
native.decode([(100, 0, 0, True)])
before = rss()
native.add_lane()
native.use_adapter("b", 1)
native.decode([(100, 0, n_seq, True)])
added = rss() - before
pos = {0: 1, n_seq: 1}
def step(slot):
    if pos[slot] >= n_ctx - 1:
        native.free_sequence(slot)
        pos[slot] = 0
    start = time.perf_counter()
    native.decode([(100 + pos[slot] % 50, pos[slot], slot, True)])
    pos[slot] += 1
    return (time.perf_counter() - start) * 1000
same, other = [], []
for i in range(steps):  # pairs: a decode on the lane decoded last, then one on the other lane (other adapter)
    step(0)
    same.append(step(0))
    other.append(step(n_seq))
print(json.dumps({"same_ms": statistics.median(same), "other_ms": statistics.median(other), "added": added,
                  "switches": native.switches}))
"""

SPEED = """
import asyncio, json, statistics, sys, time; from pathlib import Path
from synapse.llm.batch import BatchEngine, NativeModel, Placement, SequenceRequest, Shape
lora_type, work, pairs, threads, streams = sys.argv[1], Path(sys.argv[2]), *map(int, sys.argv[3:6])
lora = work / f"lora-{lora_type}-0.gguf"
shape = Shape(n_seq=streams, n_ctx_seq=512, n_threads=threads)
engines = {
    "adapter": (BatchEngine(NativeModel(work / "base-q4km.gguf", shape, Placement(loras=(("a", lora),)))), "a"),
    "merged": (BatchEngine(NativeModel(work / "merged-0.gguf", shape)), None),
}
prompt = tuple(range(100, 140))
async def timed(engine, adapter, n):
    # Random weights sample byte fragments that decode to no text, so time the whole generation instead of
    # its streamed pieces: 65 tokens minus 1 token is 64 decode steps without the prefill.
    # With --streams N, N of them at once (one decode step then carries N tokens).
    start = time.perf_counter()
    runs = [engine.submit(SequenceRequest(prompt, max_tokens=n, adapter=adapter)) for _ in range(streams)]
    await asyncio.gather(*(run.text() for run in runs))
    return time.perf_counter() - start, sum(len(run.tokens) - 1 for run in runs)
async def rate(engine, adapter):
    t1, _ = await timed(engine, adapter, 1)
    t65, n = await timed(engine, adapter, 65)
    return n / (t65 - t1)
rates = {name: [] for name in engines}
for i in range(pairs):  # back to back and in turns, so that the machine's drift falls on both of a pair alike
    for name in (("adapter", "merged") if i % 2 == 0 else ("merged", "adapter")):
        engine, adapter = engines[name]
        rates[name].append(asyncio.run(rate(engine, adapter)))
for engine, _ in engines.values():
    engine.close()
ratios = [a / m for a, m in zip(rates["adapter"], rates["merged"])]
print(json.dumps({"adapter": statistics.median(rates["adapter"]), "merged": statistics.median(rates["merged"]),
                  "ratio": statistics.median(ratios), "low": min(ratios), "high": max(ratios)}))
"""


RAW = """
import json, statistics, sys, time; from pathlib import Path
from synapse.llm.batch import NativeModel, Placement, Shape
lora_type, work, steps, threads = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
shape = Shape(n_seq=1, n_ctx_seq=2048, n_threads=threads)
lora = Placement(loras=(("a", work / f"lora-{lora_type}-0.gguf"),))
models = {"merged": NativeModel(work / "merged-0.gguf", shape)}
models["adapter"] = NativeModel(work / "base-q4km.gguf", shape, lora)
models["adapter"].use_adapter("a")
pos = {name: 0 for name in models}
def step(name):
    if pos[name] >= 2000:
        models[name].free_sequence(0)
        pos[name] = 0
    start = time.perf_counter()
    models[name].decode([(100 + pos[name] % 50, pos[name], 0, True)])
    pos[name] += 1
    return (time.perf_counter() - start) * 1000
for name in models:
    step(name)
ms = {name: [] for name in models}
for i in range(steps):  # one step of each back to back, the order alternating
    for name in (("adapter", "merged") if i % 2 == 0 else ("merged", "adapter")):
        ms[name].append(step(name))
print(json.dumps({"adapter": statistics.median(ms["adapter"]), "merged": statistics.median(ms["merged"]),
                  "ratio": statistics.median(m / a for m, a in zip(ms["merged"], ms["adapter"]))}))
"""


def _py(script: str, *args: object, wait: str | None = None) -> dict[str, float]:
    env = None
    if wait is not None:
        policy, spin = ("PASSIVE", "0") if wait == "passive" else ("ACTIVE", str(int(wait)))
        env = os.environ | {"OMP_WAIT_POLICY": policy, "GOMP_SPINCOUNT": spin}
    out = subprocess.run(
        [PY, "-c", script, *map(str, args)], cwd=ROOT, check=True, capture_output=True, text=True, env=env
    ).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _prepare(size: str, work: Path, console: Console) -> None:
    if not (work / "merged-q4km.gguf").is_file():
        console.print(f"building a random {size} base, a rank-8 adapter and their GGUFs in {work} ...")
        subprocess.run([PY, "-c", PREPARE, size, str(work)], cwd=ROOT, check=True, capture_output=True)
    copies = [("merged-q4km.gguf", "merged-{i}.gguf")] + [(f"lora-{t}.gguf", f"lora-{t}-{{i}}.gguf") for t in TYPES]
    for i in range(max(COUNTS)):
        for src, dst in copies:
            if not (work / dst.format(i=i)).exists():
                shutil.copyfile(work / src, work / dst.format(i=i))


def _mb(n: float) -> str:
    return f"{n / 2**20:,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=("small", "1.5b"), default="small")
    parser.add_argument("--work", type=Path, default=None, help="keep the built files here (reused next time)")
    parser.add_argument("--max-merged", type=int, default=16, help="merged models loaded at most at once")
    parser.add_argument("--switch-steps", type=int, default=200)
    parser.add_argument("--skip-memory", action="store_true", help="only the switch and speed figures")
    parser.add_argument("--skip-switch", action="store_true", help="without the switch figures")
    parser.add_argument("--pairs", type=int, default=10, help="adapter/merged stream pairs for tokens/s")
    parser.add_argument("--threads", type=int, default=0, help="decode threads for tokens/s (0: SYNAPSE's default)")
    parser.add_argument(
        "--wait", type=_waits, default=["passive", "1000"], help="OpenMP waits for tokens/s: passive and/or spin counts"
    )
    parser.add_argument("--streams", type=int, default=1, help="greedy streams at once for tokens/s")
    parser.add_argument("--raw-steps", type=int, default=150, help="llama_decode pairs without the engine (0: none)")
    parser.add_argument("--n-seq", type=int, default=4, help="sequences per context (SYNAPSE_PARALLEL)")
    parser.add_argument("--n-ctx", type=int, default=4096, help="cells per sequence (SYNAPSE_N_CTX)")
    args = parser.parse_args()
    if args.streams < 1:
        parser.error("--streams must be 1 or more")
    console = Console()
    work = args.work or Path(tempfile.gettempdir()) / f"adapters-bench-{args.size}"
    work.mkdir(parents=True, exist_ok=True)
    _prepare(args.size, work, console)
    sizes = {
        f: (work / f).stat().st_size for f in ("base-q4km.gguf", "merged-q4km.gguf", "lora-F32.gguf", "lora-F16.gguf")
    }
    console.print(
        f"files: base Q4_K_M {_mb(sizes['base-q4km.gguf'])} MB, merged Q4_K_M {_mb(sizes['merged-q4km.gguf'])} MB, "
        f"LoRA {_mb(sizes['lora-F32.gguf'])} MB (f32) / {_mb(sizes['lora-F16.gguf'])} MB (f16)"
    )
    if not args.skip_memory:
        _memory(args, work, console)
    for lora_type in () if args.skip_switch else TYPES:
        switch = _py(SWITCH, work, args.switch_steps, lora_type)
        per_switch = switch["alternating_ms"] - switch["same_ms"]
        lanes = _py(CONTEXTS, work, args.switch_steps, lora_type, args.n_seq, args.n_ctx)
        console.print(
            f"{lora_type} LoRA: decode step {switch['same_ms']:.2f} ms on the applied adapter, "
            f"{switch['alternating_ms']:.2f} ms after a switch: {per_switch:.2f} ms a switch"
        )
        console.print(
            f"{lora_type} LoRA, a context per adapter: decode step {lanes['same_ms']:.2f} ms on the context "
            f"decoded last, {lanes['other_ms']:.2f} ms on the other adapter's context: "
            f"{lanes['other_ms'] - lanes['same_ms']:.2f} ms a change ({lanes['switches']:.0f} llama.cpp switches "
            f"in all); the second context ({args.n_seq} x {args.n_ctx} cells) added {_mb(lanes['added'])} MB"
        )
    _speed(args, work, console)


def _waits(text: str) -> list[str]:
    waits = [w.strip() for w in text.split(",") if w.strip()]
    bad = [w for w in waits if w != "passive" and not w.isdigit()]
    if bad or not waits:
        raise argparse.ArgumentTypeError(f"{text!r}: give passive and/or spin counts, e.g. passive,1000")
    return waits


def _wait_name(wait: str) -> str:
    return "sleep at once" if wait == "passive" else f"spin {wait}"


def _speed(args: argparse.Namespace, work: Path, console: Console) -> None:
    threads = str(args.threads or f"{max((os.cpu_count() or 1) // 2, 1)} (half the cores)")
    streams = "One stream's" if args.streams == 1 else f"{args.streams} streams at once, their"
    table = Table(title=f"{streams} tokens/s, {args.pairs} pairs, medians, {threads} threads")
    for column in ("OpenMP wait", "LoRA", "adapter", "merged", "adapter / merged", "pairs' range"):
        table.add_column(column, justify="right")
    for wait in args.wait:
        for lora_type in TYPES:
            speed = _py(SPEED, lora_type, work, args.pairs, args.threads, args.streams, wait=wait)
            table.add_row(
                _wait_name(wait),
                lora_type,
                f"{speed['adapter']:.1f}",
                f"{speed['merged']:.1f}",
                f"{speed['ratio']:.3f}x",
                f"{speed['low']:.2f}-{speed['high']:.2f}",
            )
    console.print(table)
    if not args.raw_steps:
        return
    for wait in args.wait:
        for lora_type in TYPES:
            raw = _py(RAW, lora_type, work, args.raw_steps, args.threads, wait=wait)
            console.print(
                f"{lora_type} LoRA, llama_decode alone ({args.raw_steps} pairs of single steps, {_wait_name(wait)}): "
                f"{raw['adapter']:.2f} ms a token with the adapter, {raw['merged']:.2f} merged: {raw['ratio']:.3f}x"
            )


def _memory(args: argparse.Namespace, work: Path, console: Console) -> None:
    table = Table(title=f"Resident memory ({args.size}), MB")
    for column in (
        "models",
        "merged",
        *(f"{t} LoRAs on one base" for t in TYPES),
        "F32, <= 4 contexts",
        *(f"{t} / one merged" for t in TYPES),
        "<= 4 contexts / one merged",
    ):
        table.add_column(column, justify="right")
    one_merged = _py(MEMORY, "merged", 1, work)["rss"]
    for n in COUNTS:
        merged = one_merged if n == 1 else (_py(MEMORY, "merged", n, work)["rss"] if n <= args.max_merged else None)
        adapters = [_py(MEMORY, f"adapters-{t}", n, work)["rss"] for t in TYPES]
        adapters.append(_py(MEMORY, "contexts-F32", n, work)["rss"])
        table.add_row(
            str(n),
            _mb(merged) if merged is not None else "not run",
            *(_mb(a) for a in adapters),
            *(f"{a / one_merged:.2f}x" for a in adapters),
        )
    console.print(table)


if __name__ == "__main__":
    main()
