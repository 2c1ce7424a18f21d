"""`synapse serve --workers N`: gunicorn starts N uvicorn workers that all answer; refusals name the fix."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.cortex.workers_server import LAUNCHER, clean_env, pids_seen, running_server


def _synapse_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    # No model and no CORTEX to reach: the workers start in a second and /health answers 503 (nothing is up).
    return clean_env(
        SYNAPSE_BACKEND="ollama",
        OLLAMA_HOST="http://127.0.0.1:9",
        SYNAPSE_DATA_DIR=str(tmp_path / "synapse"),
        CORTEX_DATA_DIR=str(tmp_path / "cortex"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        XDG_DATA_HOME=str(tmp_path / "xdg"),
        **extra,
    )


def _children(pid: int) -> set[str]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, check=False)
    return {line.strip() for line in out.stdout.splitlines() if line.strip()}


@pytest.mark.skipif(sys.platform == "win32", reason="gunicorn does not run on Windows")
def test_serve_two_workers_answers_from_both(tmp_path: Path) -> None:
    env = _synapse_env(tmp_path, SYNAPSE_CORTEX_URL="http://127.0.0.1:9")
    with running_server(["serve", "--workers", "2"], env, tmp_path / "server.log") as url:
        pids = pids_seen(url)
        assert len(pids) == 2, f"only worker(s) {pids} answered"
        log = (tmp_path / "server.log").read_text(errors="replace")
        master = int(log.split("Listening at: ")[1].split("(")[1].split(")")[0])
        assert pids <= _children(master)  # both are worker processes of one gunicorn master


def test_serve_workers_refuses_the_in_process_file_store(tmp_path: Path) -> None:
    """Without SYNAPSE_CORTEX_URL each worker would open the CORTEX file store: refused, naming the fix."""
    done = subprocess.run(
        [sys.executable, str(LAUNCHER), "serve", "--workers", "3", "--port", "1"],
        env=_synapse_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    message = " ".join(done.stderr.split())  # rich wraps the message to the terminal's width
    assert done.returncode == 2, message
    assert "cannot run 3 workers" in message and "set SYNAPSE_CORTEX_URL" in message
