#!/usr/bin/env python3
"""Time and memory of our export against the usual route, on a random Qwen2 base with a rank-8 adapter.

    python bench/export_bench.py --size tiny        # seconds; a smoke run
    python bench/export_bench.py --size 1.5b        # Qwen2.5-1.5B shapes; minutes, ~10 GB RAM for the reference

Ours: streaming f32 merge straight into an F16 GGUF, then llama.cpp quantization to Q4_K_M.
Reference (same run): peft merge_and_unload in f32 + save_pretrained, llama.cpp's convert_hf_to_gguf.py
(from the llama-cpp-python source package of the installed version) to F16, then the same quantization.
Each phase runs in its own process so its peak RSS is its own. Verification is reported apart.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import NamedTuple

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable

BUILD = """
import sys; from pathlib import Path
from tests.support.synthetic_models import QWEN25_1_5B, TINY, build_random_lora, build_random_qwen2
shape = QWEN25_1_5B if sys.argv[1] == "1.5b" else TINY
base = build_random_qwen2(Path(sys.argv[2]), shape, dtype="bfloat16")
build_random_lora(base, Path(sys.argv[3]))
"""
OURS_MERGE = """
import sys; from pathlib import Path
from export.inputs import inspect_adapter, inspect_base
from export.merge import write_merged_gguf
base = inspect_base(Path(sys.argv[1]))
write_merged_gguf(base, inspect_adapter(Path(sys.argv[2]), base), Path(sys.argv[3]), "F16", "bench")
"""
REF_MERGE = """
import sys, torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer
model = AutoModelForCausalLM.from_pretrained(sys.argv[1], dtype=torch.float32)
merged = PeftModel.from_pretrained(model, sys.argv[2]).merge_and_unload()
merged.save_pretrained(sys.argv[3], safe_serialization=True)
AutoTokenizer.from_pretrained(sys.argv[1]).save_pretrained(sys.argv[3])
"""
# llama.cpp's converter identifies a BPE pre-tokenizer by hashing how it splits a test text; the random
# tokenizer built here is unknown to it, so the reference is told "qwen2", the split Qwen2 uses.
REF_CONVERT = """
import runpy, sys
src = sys.argv[1]
sys.path[:0] = [src, src + "/gguf-py"]
import conversion.base as base, conversion.qwen as qwen
base.TextModel.get_vocab_base_pre = lambda self, tokenizer: "qwen2"
qwen.Qwen2Model.set_vocab = lambda self: self._set_vocab_gpt2()
sys.argv = ["convert_hf_to_gguf.py", sys.argv[2], "--outtype", "f16", "--outfile", sys.argv[3]]
runpy.run_path(src + "/convert_hf_to_gguf.py", run_name="__main__")
"""
QUANTIZE = """
import sys; from pathlib import Path
from export.quantize import quantize_gguf
quantize_gguf(Path(sys.argv[1]), Path(sys.argv[2]), "Q4_K_M")
"""
LOGIT_ERROR = """
import sys; from pathlib import Path
from export.inputs import inspect_adapter, inspect_base
from export.verify import VerifyBounds, check_logits, reference_logits
base = inspect_base(Path(sys.argv[1])); adapter = inspect_adapter(Path(sys.argv[2]), base)
reference = reference_logits(base, adapter)
for path in sys.argv[3:]:
    check, _ = check_logits((Path(path), "F16"), reference, VerifyBounds(require_stop=False, chat_max_tokens=4))
    print(path, check.max_abs_logit_error)
"""


class Phase(NamedTuple):
    """One phase's figures, from its own process."""

    wall: float  # seconds
    cpu: float  # user + system seconds: less sensitive than wall time to other work on the machine
    rss: float  # peak resident MiB


LOG: Path | None = None  # the phases' own output goes here, so the table stays readable


def run(code_or_args: str | list[str], *args: str, env: dict[str, str] | None = None) -> Phase:
    """Run a phase in a fresh process; returns its wall time, CPU time and peak RSS."""
    cmd = [PY, "-c", code_or_args, *args] if isinstance(code_or_args, str) else code_or_args
    start = time.perf_counter()
    with open(LOG or os.devnull, "ab") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=log, stderr=log)
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"phase failed: {' '.join(cmd[:4])} (its output is in {LOG})")
    return Phase(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def llama_cpp_source(work: Path) -> Path:
    """The llama.cpp tree inside the llama-cpp-python source package of the installed version."""
    version = metadata.version("llama-cpp-python")
    dest = work / "llama-cpp-python-src"
    if not dest.exists():
        subprocess.run(
            [
                PY,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-binary",
                ":all:",
                "--no-deps",
                "-d",
                str(work),
                f"llama-cpp-python=={version}",
            ],
            check=True,
        )
        with tarfile.open(next(work.glob(f"llama_cpp_python-{version}.tar.gz"))) as tar:
            tar.extractall(dest, filter="data")
    return next(dest.glob("*/vendor/llama.cpp"))


def warm_inputs(*folders: Path) -> None:
    """Read the inputs once so that each route starts with them in the page cache.

    Otherwise the route that runs first pays the disk reads and the second one does not (seen here:
    our merge took 16.8 s after a cold start and 7.0 s warm, which moved the ratio from 0.65x to 0.59x).
    """
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                with path.open("rb") as fh:
                    while fh.read(1 << 24):
                        pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", choices=["tiny", "1.5b"], default="tiny")
    ap.add_argument("--work", type=Path, default=None, help="folder for models and outputs (default: a temp dir)")
    ap.add_argument("--skip-reference", action="store_true")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="export-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    console = Console()
    global LOG
    LOG = work / "phases.log"
    console.print(f"phase output goes to {LOG}")
    base, adapter = work / "base", work / "adapter"
    if not (base / "config.json").exists():
        console.print(f"building a random {args.size} base and adapter in {work} ...")
        run(BUILD, args.size, str(base), str(adapter))

    rows: dict[str, dict[str, Phase]] = {"ours": {}, "reference": {}}
    ours_f16, ref_f16 = work / "ours-f16.gguf", work / "ref-f16.gguf"
    ours_f16.unlink(missing_ok=True)
    warm_inputs(base, adapter)
    rows["ours"]["merge+convert"] = run(OURS_MERGE, str(base), str(adapter), str(ours_f16))
    rows["ours"]["quantize"] = run(QUANTIZE, str(ours_f16), str(work / "ours-q4km.gguf"))
    if not args.skip_reference:
        src = llama_cpp_source(work)
        merged = work / "ref-merged"
        warm_inputs(base, adapter)
        rows["reference"]["merge"] = run(REF_MERGE, str(base), str(adapter), str(merged))
        rows["reference"]["convert"] = run(REF_CONVERT, str(src), str(merged), str(ref_f16))
        rows["reference"]["quantize"] = run(QUANTIZE, str(ref_f16), str(work / "ref-q4km.gguf"))

    errors = subprocess.run(
        [PY, "-c", LOGIT_ERROR, str(base), str(adapter), str(ours_f16), *([str(ref_f16)] if ref_f16.exists() else [])],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    err = {line.split()[0]: float(line.split()[1]) for line in errors if line.strip()}

    table = Table(title=f"LoRA export, {args.size}: each phase in its own process, verification not included")
    for col in ("route", "phase", "wall s", "CPU s", "peak RSS MiB"):
        table.add_column(col, justify="left" if col in ("route", "phase") else "right")
    totals: dict[str, Phase] = {}
    for route, phases in rows.items():
        for phase, fig in phases.items():
            table.add_row(route, phase, f"{fig.wall:.1f}", f"{fig.cpu:.1f}", f"{fig.rss:.0f}")
        if phases:
            totals[route] = Phase(
                sum(p.wall for p in phases.values()),
                sum(p.cpu for p in phases.values()),
                max(p.rss for p in phases.values()),
            )
            t = totals[route]
            table.add_row(route, "[bold]total[/]", f"{t.wall:.1f}", f"{t.cpu:.1f}", f"{t.rss:.0f}")
    console.print(table)
    console.print(
        f"F16 max abs logit error vs unmerged peft: ours {err.get(str(ours_f16), float('nan')):.3g}"
        + (f", reference {err.get(str(ref_f16), float('nan')):.3g}" if str(ref_f16) in err else "")
    )
    if "reference" in totals:
        ours, ref = totals["ours"], totals["reference"]
        console.print(
            f"ours / reference: wall time {ours.wall / ref.wall:.2f}x, CPU time {ours.cpu / ref.cpu:.2f}x, "
            f"peak RSS {ours.rss / ref.rss:.2f}x"
        )


if __name__ == "__main__":
    main()
