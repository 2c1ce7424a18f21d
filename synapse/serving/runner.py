"""Run an ASGI app with one process (uvicorn) or several (gunicorn + uvicorn workers)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from synapse.blas import limit_serving_blas
from synapse.config import CortexSettings
from synapse.errors import SynapseError
from synapse.serving.pid import WorkerPidHeader


class WorkersUnsupportedError(SynapseError):
    """Several worker processes were asked for where gunicorn cannot run."""


def check_platform(workers: int) -> None:
    """gunicorn runs on Linux and macOS only; on Windows name the ways that do work, on macOS the fork setting."""
    if workers > 1 and sys.platform == "win32":
        raise WorkersUnsupportedError(
            f"--workers {workers} needs gunicorn, which does not run on Windows",
            "run one worker here, or run the service with several workers in Docker (compose.yaml) or WSL",
        )
    # macOS's Objective-C runtime (under NumPy's Accelerate) kills forked children unless this is set when
    # the process starts; setting it here would be too late.
    if workers > 1 and sys.platform == "darwin" and os.environ.get("OBJC_DISABLE_INITIALIZE_FORK_SAFETY") != "YES":
        raise WorkersUnsupportedError(
            f"--workers {workers} on macOS needs OBJC_DISABLE_INITIALIZE_FORK_SAFETY=YES in the environment",
            "export OBJC_DISABLE_INITIALIZE_FORK_SAFETY=YES, then start the server again (or run one worker)",
        )


@dataclass(frozen=True)
class Listen:
    """Where and how a server listens: the address, the port, the worker processes, the log level."""

    host: str
    port: int
    workers: int = 1
    log_level: str = "info"


@dataclass(frozen=True)
class SharedStore:
    """The CORTEX store an app opens in every worker; `what` and `hint` word the refusal of a store that
    several workers cannot share."""

    cortex: CortexSettings
    what: str = "the server"
    hint: str = ""


def serve_app(app_factory: Callable[[], Any], listen: Listen, store: SharedStore | None = None) -> None:
    """Serve the app that `app_factory` builds, in `listen.workers` processes."""
    host, port, workers, log_level = listen.host, listen.port, listen.workers, listen.log_level
    cortex = store.cortex if store is not None else None
    check_platform(workers)
    limit_serving_blas()

    def build() -> Any:
        return WorkerPidHeader(app_factory())

    if workers == 1:
        import uvicorn

        uvicorn.run(build(), host=host, port=port, log_level=log_level)
        return

    from synapse.serving.gunicorn_app import GunicornServer
    from synapse.serving.prefork import check_cortex_store, cortex_store_for_workers, share_lightrag_state

    if cortex is not None:
        check_cortex_store(cortex, workers, what=store.what if store else "", hint=store.hint if store else "")
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    with cortex_store_for_workers(cortex) if cortex is not None else contextlib.nullcontext():
        if cortex is not None:  # LightRAG runs in the workers only when they open the store themselves
            share_lightrag_state(workers)
        options = {"bind": bind, "workers": workers, "loglevel": log_level}
        GunicornServer(build, options).run()
