"""The gunicorn worker class: uvicorn, plus an exit when the master process is gone."""

from __future__ import annotations

from uvicorn_worker import UvicornWorker  # type: ignore[import-untyped]

from synapse.embeddings.parent_watch import stop_gracefully, watch_parent

#: As long as gunicorn gives a worker to finish its requests (graceful_timeout in gunicorn_app).
STOP_GRACE_S = 30.0


class ServingWorker(UvicornWorker):  # type: ignore[misc]
    """A uvicorn worker that stops serving once its gunicorn master has died.

    gunicorn's own workers notice a new parent on every loop; the uvicorn worker does not, so after a
    `kill -9` of the master its workers would hold the port and the store forever. uvicorn's notify tick
    comes only every half worker timeout (minutes), so a watch thread looks at the master instead, and
    stops the worker on uvicorn's graceful path (finish requests, close CORTEX) as SIGTERM does.
    """

    def run(self) -> None:
        watch_parent(self.ppid, stop_gracefully(STOP_GRACE_S))
        super().run()
