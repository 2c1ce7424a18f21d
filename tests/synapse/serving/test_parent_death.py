"""What a server with several workers starts dies with its master: workers, LightRAG's manager, the store helper."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.cortex.workers_server import clean_env, running_server

psutil = pytest.importorskip("psutil")

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="gunicorn and SIGKILL are POSIX only")

ROOT = Path(__file__).resolve().parents[3]
GONE_WITHIN_S = 10.0


def _running(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def _still_running(pids: list[int], within_s: float = GONE_WITHIN_S) -> list[int]:
    deadline = time.monotonic() + within_s
    while (left := [p for p in pids if _running(p)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in left:  # leave nothing behind for the next test
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return left


def _master_pid(log: Path) -> int:
    text = log.read_text(errors="replace")
    return int(text.split("Listening at: ")[1].split("(")[1].split(")")[0])


def test_workers_stop_when_their_master_is_killed(tmp_path: Path) -> None:
    env = clean_env(
        SYNAPSE_BACKEND="ollama",
        OLLAMA_HOST="http://127.0.0.1:9",
        SYNAPSE_CORTEX_URL="http://127.0.0.1:9",
        SYNAPSE_DATA_DIR=str(tmp_path / "synapse"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        XDG_DATA_HOME=str(tmp_path / "xdg"),
    )
    log = tmp_path / "server.log"
    with running_server(["serve", "--workers", "2"], env, log):
        master = _master_pid(log)
        deadline = time.monotonic() + 60
        while len(workers := [c.pid for c in psutil.Process(master).children()]) < 2:
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.2)
        os.kill(master, signal.SIGKILL)
        left = _still_running(workers)
    assert not left, f"workers {left} outlived their killed master:\n{log.read_text(errors='replace')[-3000:]}"


def _run_master(script: str, tmp_path: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    path = tmp_path / "master.py"
    path.write_text(textwrap.dedent(script), encoding="utf-8")
    log = (tmp_path / "master.log").open("wb")
    return subprocess.Popen([sys.executable, str(path)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def _spawned_child(master: subprocess.Popen[bytes], tmp_path: Path, timeout: float = 120) -> int:
    """The pid of the master's child that multiprocessing started (not its resource tracker)."""
    deadline = time.monotonic() + timeout
    while True:
        for child in psutil.Process(master.pid).children():
            with contextlib.suppress(psutil.Error):
                cmdline = " ".join(child.cmdline())
                if "resource_tracker" not in cmdline and "python" in cmdline:
                    return int(child.pid)
        log = (tmp_path / "master.log").read_text(errors="replace")
        assert master.poll() is None, log
        assert time.monotonic() < deadline, f"the master started no child in {timeout:.0f} s:\n{log}"
        time.sleep(0.1)


def test_lightrags_manager_stops_when_the_master_is_killed(tmp_path: Path) -> None:
    script = """
        import time
        from synapse.serving.prefork import share_lightrag_state

        share_lightrag_state(2)
        time.sleep(600)
        """
    master = _run_master(script, tmp_path, {**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        manager = _spawned_child(master, tmp_path)
        time.sleep(1.0)  # the manager is serving
    finally:
        master.kill()
        master.wait()
    assert not _still_running([manager]), "LightRAG's manager outlived its killed master"


@pytest.mark.slow
def test_the_store_helper_stops_when_the_master_is_killed(tmp_path: Path) -> None:
    """The helper that opens the store before the workers start (here: embedding the TRIZ graph for a while)."""
    script = """
        import time
        from synapse.config import CortexSettings
        from synapse.serving.prefork import cortex_store_for_workers

        if __name__ == "__main__":  # the spawned helper imports this script again
            with cortex_store_for_workers(CortexSettings()):
                time.sleep(600)
        """
    env = clean_env(
        CORTEX_DATA_DIR=str(tmp_path / "data"),
        CORTEX_EMBEDDER="use-multilingual",
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        XDG_DATA_HOME=str(tmp_path / "xdg"),
        PYTHONPATH=str(ROOT),
    )
    master = _run_master(script, tmp_path, env)
    try:
        helper = _spawned_child(master, tmp_path)
        deadline = time.monotonic() + 120
        while psutil.Process(helper).memory_info().rss < 100 * 2**20:  # opening the store: the embedder is in
            assert _running(helper) and time.monotonic() < deadline, (tmp_path / "master.log").read_text()
            time.sleep(0.2)
    finally:
        master.kill()
        master.wait()
    assert not _still_running([helper]), "the store helper outlived its killed master"
