"""Serving SYNAPSE and CORTEX with one or several worker processes (gunicorn + uvicorn workers)."""

from synapse.serving.pid import PID_HEADER, WorkerPidHeader
from synapse.serving.prefork import StorePreparationError, check_cortex_store
from synapse.serving.runner import Listen, SharedStore, WorkersUnsupportedError, check_platform, serve_app

__all__ = [
    "PID_HEADER",
    "Listen",
    "SharedStore",
    "StorePreparationError",
    "WorkerPidHeader",
    "WorkersUnsupportedError",
    "check_cortex_store",
    "check_platform",
    "serve_app",
]
