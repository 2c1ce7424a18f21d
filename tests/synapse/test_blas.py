"""BLAS threads per worker."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/maps")
def test_limit_reaches_numpys_openblas() -> None:
    code = (
        "import numpy, ctypes\n"
        "from synapse.blas import _loaded_openblas, limit_blas_threads\n"
        "assert limit_blas_threads(1) >= 1, _loaded_openblas()\n"
        "lib = ctypes.CDLL(_loaded_openblas()[0])\n"
        "get = next(getattr(lib, n) for n in ('scipy_openblas_get_num_threads64_', 'openblas_get_num_threads',"
        " 'openblas_get_num_threads64_', 'scipy_openblas_get_num_threads') if hasattr(lib, n))\n"
        "print(get())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/maps")
@pytest.mark.parametrize(("env", "expected"), [(None, "1"), ("3", "3"), ("many", "1")])
def test_serving_processes_keep_one_blas_thread_unless_told(env: str | None, expected: str) -> None:
    code = (
        "import os, numpy, ctypes\n"
        "from synapse.blas import _loaded_openblas, limit_serving_blas\n"
        "n = limit_serving_blas()\n"
        "lib = ctypes.CDLL(_loaded_openblas()[0])\n"
        "get = next(getattr(lib, n) for n in ('scipy_openblas_get_num_threads64_', 'openblas_get_num_threads',"
        " 'openblas_get_num_threads64_', 'scipy_openblas_get_num_threads') if hasattr(lib, n))\n"
        "print(n, get(), os.environ['OPENBLAS_NUM_THREADS'])\n"
    )
    import os

    environ = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if env is not None:
        environ["OPENBLAS_NUM_THREADS"] = env
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=environ)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [expected, expected, expected]
