"""LightRAG keeps per-workspace state in module globals; a closed Cortex must leave none behind.

Also who owns a store's files: one process, or one server whose master holds the lock for its workers.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import IO

from cortex.errors import CortexError
from cortex.lightrag_compat import forget_workspace, is_multiprocess

_open: set[str] = set()
_locked: set[str] = set()

#: Set by a server's master process that holds a store's lock for its worker processes: "pid:lock path".
HELD_FOR_WORKERS_ENV = "CORTEX_STORE_HELD_BY"


def claim(workspace: str, data_dir: str) -> None:
    """One open instance per store and process: LightRAG would share its in-memory state between them."""
    if workspace in _open:
        raise CortexError(
            f"the CORTEX store in {data_dir} is already open in this process",
            "use the open instance, or close it first (await cortex.aclose())",
        )
    _open.add(workspace)


def release(workspace: str) -> None:
    """Forget the workspace's shared in-memory data so a later instance (on another loop) loads from disk."""
    _open.discard(workspace)
    forget_workspace(workspace)


def several_workers() -> bool:
    """True in a worker of a server started with several processes (LightRAG's shared data is multi-process)."""
    return is_multiprocess()


FILE_STORE_SINGLE_PROCESS = (
    "CORTEX's file storages keep their vector index and graph in each process's memory: "
    "several worker processes would each see only their own writes"
)
FILE_STORE_HINT = "set CORTEX_STORAGE=postgres (and CORTEX_POSTGRES_URL) for several workers, or run one worker"


class StoreLock:
    """An exclusive lock file in the data directory: one process at a time owns a store's files."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / ".cortex.lock"
        self._fh: IO[bytes] | None = None

    def held_by_parent(self) -> bool:
        """True in a worker process whose server master holds this store's lock for it."""
        owner, _, path = os.environ.get(HELD_FOR_WORKERS_ENV, "").partition(":")
        return owner.isdigit() and int(owner) == os.getppid() and path == str(self.path.resolve())

    def acquire(self) -> None:
        key = str(self.path.resolve())
        if self.held_by_parent():
            return  # the master locked the store for all its workers; they coordinate through LightRAG
        if key in _locked:
            raise CortexError(
                f"the CORTEX store in {self.path.parent} is already open in this process",
                "use the open instance, or close it first (await cortex.aclose())",
            )
        fh = self.path.open("a+b")
        try:
            if sys.platform == "win32":
                import msvcrt

                fh.seek(0)
                msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            raise CortexError(
                f"the CORTEX store in {self.path.parent} is in use by another process",
                "reach the running server with --url http://127.0.0.1:8004 (SYNAPSE: SYNAPSE_CORTEX_URL), "
                "or stop it first",
            ) from None
        self._fh = fh
        _locked.add(key)

    def release(self) -> None:
        if self._fh is not None:
            self._fh.close()  # closing drops the lock on every platform
            self._fh = None
            _locked.discard(str(self.path.resolve()))

    def hold_for_workers(self) -> None:
        """Take the lock in a server's master and let the worker processes it starts open the store."""
        self.acquire()
        os.environ[HELD_FOR_WORKERS_ENV] = f"{os.getpid()}:{self.path.resolve()}"

    def release_for_workers(self) -> None:
        os.environ.pop(HELD_FOR_WORKERS_ENV, None)
        self.release()
