"""BLAS threads per worker."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/maps")
def test_limit_reaches_numpys_openblas() -> None:
    code = (
        "import numpy, ctypes\n"
        "from synapse.serving.blas import _loaded_openblas, limit_blas_threads\n"
        "assert limit_blas_threads(1) >= 1, _loaded_openblas()\n"
        "lib = ctypes.CDLL(_loaded_openblas()[0])\n"
        "get = next(getattr(lib, n) for n in ('scipy_openblas_get_num_threads64_', 'openblas_get_num_threads',"
        " 'openblas_get_num_threads64_', 'scipy_openblas_get_num_threads') if hasattr(lib, n))\n"
        "print(get())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1"
