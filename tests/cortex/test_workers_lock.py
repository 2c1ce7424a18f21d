"""The store lock a server's master holds for its workers, and LightRAG state that workers share."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cortex.errors import CortexError
from cortex.workspace import HELD_FOR_WORKERS_ENV, StoreLock, release


def _try_lock(data_dir: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    code = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        from cortex.errors import CortexError
        from cortex.workspace import StoreLock
        try:
            StoreLock(Path(sys.argv[1])).acquire()
        except CortexError as exc:
            print("refused:", exc.message)
        else:
            print("opened")
        """
    )
    return subprocess.run(
        [sys.executable, "-c", code, str(data_dir)], env=env, capture_output=True, text=True, timeout=60
    )


def test_children_of_the_holding_master_open_the_store_others_do_not(tmp_path: Path) -> None:
    lock = StoreLock(tmp_path)
    lock.hold_for_workers()
    try:
        child = _try_lock(tmp_path, dict(os.environ))
        assert child.stdout.strip() == "opened", child.stderr
        # The same variable in a process that is not the master's child (a stray copy of the env) is ignored.
        forged = {**os.environ, HELD_FOR_WORKERS_ENV: f"1:{(tmp_path / '.cortex.lock').resolve()}"}
        assert _try_lock(tmp_path, forged).stdout.startswith("refused:")
        with pytest.raises(CortexError, match="already open in this process"):
            StoreLock(tmp_path).acquire()  # the master itself does not open the store twice
    finally:
        lock.release_for_workers()
    assert HELD_FOR_WORKERS_ENV not in os.environ
    assert _try_lock(tmp_path, dict(os.environ)).stdout.strip() == "opened"


def test_closing_a_worker_keeps_the_shared_pipeline_state(monkeypatch: pytest.MonkeyPatch) -> None:
    from lightrag.kg import shared_storage as ss

    shared = {"ws:pipeline_status": {"busy": True}, "other:pipeline_status": {}}
    local = {"ws:pipeline_status": {"cached": True}}
    monkeypatch.setattr(ss, "_shared_dicts", shared, raising=False)
    monkeypatch.setattr(ss, "_namespace_data_cache", local, raising=False)
    monkeypatch.setattr(ss, "_is_multiprocess", True, raising=False)
    release("ws")
    assert "ws:pipeline_status" in shared  # other workers still run on it
    assert "ws:pipeline_status" not in local  # this process's cache goes
    monkeypatch.setattr(ss, "_is_multiprocess", False, raising=False)
    release("ws")
    assert "ws:pipeline_status" not in shared and "other:pipeline_status" in shared
