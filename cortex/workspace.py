"""LightRAG keeps per-workspace state in module globals; a closed Cortex must leave none behind."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO, Any

from cortex.errors import CortexError

_open: set[str] = set()
_locked: set[str] = set()


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
    from lightrag.kg import shared_storage as ss  # type: ignore[import-untyped]

    prefix = f"{workspace}:"
    registries: list[Any] = [
        getattr(ss, name, None)
        for name in (
            "_shared_dicts",
            "_init_flags",
            "_update_flags",
            "_namespace_data_cache",
            "_pipeline_ingress_local",
            "_scan_job_store_local",
        )
    ]
    for registry in registries:
        if registry is None:
            continue
        for key in [k for k in list(registry.keys()) if isinstance(k, str) and k.startswith(prefix)]:
            registry.pop(key, None)


class StoreLock:
    """An exclusive lock file in the data directory: one process at a time owns a store's files."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / ".cortex.lock"
        self._fh: IO[bytes] | None = None

    def acquire(self) -> None:
        key = str(self.path.resolve())
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
