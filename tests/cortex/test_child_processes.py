"""A real `synapse cortex serve` takes its embedding child with it: when killed, and on SIGTERM mid-ingest.

The child runs the real offline embedder (a registry embedder is the only kind a child can load), so
these are slow tests; each starts its own server on a fresh store (the TRIZ graph's vectors are cached
once for the module).
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cortex.workers_server import clean_env
from tests.pg_server import free_port

psutil = pytest.importorskip("psutil")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL and SIGTERM are POSIX signals"),
]

ROOT = Path(__file__).resolve().parents[2]
GONE_WITHIN_S = 10.0
WORDS = ("heat", "exchanger", "coolant", "flow", "pump", "valve", "bracket", "casting", "lattice", "fatigue")


# `synapse up` with CORTEX alone: the supervisor starts it with the stack's own command line.
SUPERVISOR = """
import sys
from synapse.stack import ServiceSpec, Supervisor, synapse_command
port = sys.argv[1]
url = f"http://127.0.0.1:{port}"
command = synapse_command("cortex", "serve", "--host", "127.0.0.1", "--port", port)
spec = ServiceSpec(name="cortex", command=command, health_url=f"{url}/health", url=url)
sys.exit(Supervisor([spec], lambda name, line: print(name, "|", line, flush=True)).run(600))
"""


class Server:
    """`synapse cortex serve` in a process of its own on a fresh store in `root`, or run by the stack's supervisor."""

    def __init__(self, root: Path, cache: Path, supervised: bool = False) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = root / "server.log"
        env = clean_env(
            CORTEX_DATA_DIR=str(root / "data"),
            CORTEX_EMBEDDER="use-multilingual",
            XDG_CACHE_HOME=str(cache),
            XDG_DATA_HOME=str(root / "xdg"),
            PYTHONPATH=str(ROOT),
        )
        command = [sys.executable, "-c", "from synapse.cli import main; main()", "cortex", "serve"]
        command += ["--host", "127.0.0.1", "--port", str(self.port)]
        if supervised:
            command = [sys.executable, "-c", SUPERVISOR, str(self.port)]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def text(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def wait_healthy(self, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc.poll() is None, f"the server exited with {self.proc.returncode}:\n{self.text()}"
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/health", timeout=5).status_code == 200:
                    return
            assert time.monotonic() < deadline, f"the server did not answer in {timeout:.0f} s:\n{self.text()}"
            time.sleep(0.5)

    def upload(self, count: int, paragraphs: int) -> None:
        rng = random.Random(count * 1000 + paragraphs)
        with httpx.Client(base_url=self.url, timeout=120) as client:
            for i in range(count):
                body = "\n\n".join(
                    f"Report {i}.{p}: " + " ".join(rng.choice(WORDS) for _ in range(120)) + "."
                    for p in range(paragraphs)
                )
                response = client.post("/documents", files={"file": (f"report-{i}.txt", body.encode())})
                assert response.status_code == 202, response.text

    def embedding_child(self, timeout: float = 300) -> Any:
        """The server's embedding process (a spawned multiprocessing child) once its model is loaded."""
        deadline = time.monotonic() + timeout
        while True:
            for child in psutil.Process(self.proc.pid).children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    spawned = "spawn_main" in " ".join(child.cmdline())
                    if spawned and child.memory_info().rss > 100 * 2**20:  # the model is in
                        return child
            assert self.proc.poll() is None, f"the server exited:\n{self.text()}"
            assert time.monotonic() < deadline, f"no embedding process after {timeout:.0f} s:\n{self.text()}"
            time.sleep(0.2)

    def descendants(self) -> list[Any]:
        """Every process the server started (the embedding child, multiprocessing's resource tracker)."""
        return list(psutil.Process(self.proc.pid).children(recursive=True))

    def close(self, leftovers: list[Any]) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        for process in leftovers:
            with contextlib.suppress(psutil.Error):
                process.kill()


def _running(process: Any) -> bool:
    try:
        return bool(process.is_running() and process.status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def _still_running(processes: list[Any], within_s: float) -> list[Any]:
    """Those of `processes` still running after up to `within_s` seconds."""
    deadline = time.monotonic() + within_s
    while (left := [p for p in processes if _running(p)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def _busy(process: Any, timeout: float = 120) -> None:
    """Wait until `process` spends CPU time (it is embedding a batch)."""
    deadline = time.monotonic() + timeout
    before = sum(process.cpu_times()[:2])
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = sum(process.cpu_times()[:2])
        if now - before > 0.2:
            return
        before = now
    raise AssertionError("the embedding process never got busy")


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("child-procs-cache")


@pytest.fixture(params=[False], ids=["cortex"])
def server(tmp_path: Path, cache: Path, request: pytest.FixtureRequest) -> Iterator[Server]:
    running = Server(tmp_path, cache, supervised=request.param)
    seen: list[Any] = []
    try:
        running.wait_healthy()
        yield running
    finally:
        with contextlib.suppress(psutil.Error):
            seen = running.descendants()
        running.close(seen)


def test_a_killed_server_takes_its_embedding_child_with_it(server: Server) -> None:
    server.upload(count=4, paragraphs=40)
    child = server.embedding_child()
    started = server.descendants()
    assert child in started
    os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait(timeout=30)
    left = _still_running(started, GONE_WITHIN_S)
    try:
        assert not left, f"still running {GONE_WITHIN_S:.0f} s after the server was killed: {left}"
    finally:
        server.close(left)


def test_sigterm_in_the_middle_of_an_ingest_stops_the_server_and_its_child(server: Server) -> None:
    server.upload(count=30, paragraphs=60)
    child = server.embedding_child()
    _busy(child)
    started = server.descendants()
    assert child in started
    server.proc.send_signal(signal.SIGTERM)
    left = _still_running([psutil.Process(server.proc.pid), *started], GONE_WITHIN_S)
    try:
        assert not left, f"still running {GONE_WITHIN_S:.0f} s after SIGTERM: {left}\n{server.text()}"
        # uvicorn re-raises the SIGTERM once it has shut down, so the status may say so.
        assert server.proc.wait(timeout=5) in (0, -signal.SIGTERM), server.text()
    finally:
        server.close(left)


@pytest.mark.parametrize("server", [True], ids=["supervised"], indirect=True)
def test_a_killed_supervisor_takes_cortex_and_its_child_with_it(server: Server) -> None:
    """`synapse up` killed: CORTEX, in a process group of its own, stops by itself, and so does its child."""
    server.upload(count=4, paragraphs=40)
    child = server.embedding_child()
    started = server.descendants()
    assert child in started and len(started) >= 3  # CORTEX, its embedding child, multiprocessing's tracker
    os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait(timeout=30)
    left = _still_running(started, GONE_WITHIN_S)
    try:
        assert not left, f"still running {GONE_WITHIN_S:.0f} s after the supervisor was killed: {left}"
    finally:
        server.close(left)
