"""A real server with several workers in another process, for the worker tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.pg_server import free_port

LAUNCHER = Path(__file__).with_name("workers_launcher.py")


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without the developer's settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNAPSE_", "CORTEX_", "TERMINAL_", "POSTGRES_"))}
    env.pop("OLLAMA_HOST", None)
    env.update(extra)
    return env


@contextlib.contextmanager
def running_server(args: list[str], env: dict[str, str], log: Path, timeout: float = 180) -> Iterator[str]:
    """Start `synapse <args> --port P` (the launcher adds the fake embedder); yields its URL once /health answers."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, str(LAUNCHER), *args, "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"the server exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health", timeout=5).status_code in (200, 503):
                    break
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"the server did not answer in {timeout:.0f} s:\n{log.read_text(errors='replace')}"
                )
            time.sleep(0.3)
        yield url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # the master stops its workers, which close their stores
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def pids_seen(url: str, path: str = "/health", tries: int = 200, want: int = 2) -> set[str]:
    """Worker pids that answer `path` over fresh connections (stops once `want` are seen)."""
    seen: set[str] = set()
    for _ in range(tries):
        response = httpx.get(f"{url}{path}", timeout=30, headers={"Connection": "close"})
        seen.add(response.headers["x-worker-pid"])
        if len(seen) >= want:
            break
    return seen
