"""The gunicorn worker class: uvicorn, plus an exit when the master process is gone."""

from __future__ import annotations

import os
import signal

from uvicorn_worker import UvicornWorker  # type: ignore[import-untyped]


class ServingWorker(UvicornWorker):  # type: ignore[misc]
    """A uvicorn worker that stops serving once its gunicorn master has died.

    gunicorn's own workers notice a new parent on every loop; the uvicorn worker does not, so after a
    `kill -9` of the master its workers would hold the port and the store forever. The check rides on
    uvicorn's notify tick, so it needs no timer of its own.
    """

    async def callback_notify(self) -> None:
        await super().callback_notify()
        if self.ppid != os.getppid():
            self.log.info("master %s is gone: worker %s stops", self.ppid, os.getpid())
            os.kill(os.getpid(), signal.SIGTERM)  # uvicorn's graceful path: finish requests, close CORTEX
