"""gunicorn with uvicorn workers, configured in code (no gunicorn.conf.py, no command-line parsing)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]

from synapse.blas import limit_serving_blas
from synapse.serving.prefork import release_lightrag_state

#: A worker may take minutes to start on a busy machine (embedder, LightRAG); gunicorn's 30 s would kill it.
WORKER_TIMEOUT_S = 600


def _on_exit(server: Any) -> None:
    release_lightrag_state()


def _post_fork(server: Any, worker: Any) -> None:
    """Each worker keeps the serving BLAS thread count (a forked OpenBLAS may have reset its pool)."""
    limit_serving_blas()


def _post_worker_init(worker: Any) -> None:
    worker.log.info("worker %s serving", os.getpid())


class GunicornServer(BaseApplication):  # type: ignore[misc]
    """Serves one ASGI app with `workers` uvicorn processes, the app built once in the master (preload)."""

    def __init__(self, app_factory: Callable[[], Any], options: dict[str, Any]) -> None:
        self._factory = app_factory
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        settings = {
            "worker_class": "synapse.serving.worker.ServingWorker",
            "preload_app": True,
            "timeout": WORKER_TIMEOUT_S,
            "graceful_timeout": 30,
            # uvicorn's own default; gunicorn's 2 s closed idle connections that clients were about to reuse
            # (a POST on a connection the server just closed fails with a read error).
            "keepalive": 5,
            # gunicorn's control socket sits at one path per user: a second server (CORTEX beside SYNAPSE)
            # would take it over. Nothing here uses it.
            "control_socket_disable": True,
            # One listening socket per worker (SO_REUSEPORT): the kernel spreads connections over them. With one
            # shared socket the first worker to wake accepted nearly every connection of a burst (59 of 60).
            "reuse_port": True,
            "on_exit": _on_exit,
            "post_fork": _post_fork,
            "post_worker_init": _post_worker_init,
            **self._options,
        }
        for key, value in settings.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self._factory()
