"""Runs several services as child processes: start, wait until healthy, stream their logs, stop them together."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import IO, Any

import httpx
from pydantic import BaseModel, Field

from synapse.embeddings.parent_watch import PARENT_PID_ENV
from synapse.errors import SynapseError

LogSink = Callable[[str, str], None]


class ServiceSpec(BaseModel):
    """One service of the stack: how to start it and where it says it is healthy."""

    name: str
    command: list[str] = Field(min_length=1)
    health_url: str
    url: str
    env: dict[str, str] = Field(default_factory=dict)


class StackError(SynapseError):
    """A service of the stack failed to start or stopped on its own."""

    exit_code = 1


class _Running:
    def __init__(self, spec: ServiceSpec, process: subprocess.Popen[bytes], tail: deque[str]) -> None:
        self.spec = spec
        self.process = process
        self.tail = tail
        self.reader: threading.Thread | None = None
        self.health: dict[str, Any] = {}


def _popen_options() -> dict[str, Any]:
    # Children get their own process group: Ctrl-C reaches the supervisor only, which stops them in order.
    if sys.platform == "win32":
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}  # type: ignore[attr-defined]
    return {"start_new_session": True}


class Supervisor:
    """Starts the services, waits for their health checks, relays their logs, and stops all if one stops."""

    def __init__(self, specs: list[ServiceSpec], sink: LogSink, *, stop_timeout_s: float = 15.0) -> None:
        self.specs = specs
        self.sink = sink
        self.stop_timeout_s = stop_timeout_s
        self.running: list[_Running] = []
        self._stop = threading.Event()

    # ---- start ----

    def start(self, timeout_s: float) -> None:
        """Start the services in order, each once the one before is healthy; on any failure stop all and raise.

        In order because each needs the one before (SYNAPSE asks CORTEX, the terminal asks SYNAPSE), and because a
        first start is CPU-bound: three at once on two cores made CORTEX's embedding of the TRIZ graph time out.
        """
        deadline = time.monotonic() + timeout_s
        try:
            for spec in self.specs:
                self._launch(spec)
                self._wait_healthy([self.running[-1]], deadline, timeout_s)
        except BaseException:
            self.stop()
            raise

    def _launch(self, spec: ServiceSpec) -> None:
        # The child watches this process: killed, the supervisor cannot stop its services, so they stop themselves.
        env = {**os.environ, **spec.env, "PYTHONUNBUFFERED": "1", PARENT_PID_ENV: str(os.getpid())}
        process = subprocess.Popen(
            spec.command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            **_popen_options(),
        )
        running = _Running(spec, process, deque(maxlen=30))
        assert process.stdout is not None
        running.reader = threading.Thread(
            target=self._relay, args=(running, process.stdout), name=f"log-{spec.name}", daemon=True
        )
        running.reader.start()
        self.running.append(running)

    def _relay(self, running: _Running, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", errors="replace").rstrip()
            running.tail.append(line)
            self.sink(running.spec.name, line)

    def _died(self, running: _Running) -> StackError:
        if running.reader is not None:
            running.reader.join(timeout=2)
        tail = "\n".join(running.tail) or "(no output)"
        return StackError(
            f"{running.spec.name} stopped with exit code {running.process.returncode}; its last lines:\n{tail}",
            "fix what the log says; `synapse config` shows the settings in effect",
        )

    def _wait_healthy(self, services: list[_Running], deadline: float, timeout_s: float) -> None:
        pending = list(services)
        with httpx.Client(timeout=3.0) as client:
            while pending:
                for running in list(pending):
                    if running.process.poll() is not None:
                        raise self._died(running)
                    try:
                        response = client.get(running.spec.health_url)
                    except httpx.TransportError:
                        continue
                    if response.status_code == 200:
                        running.health = _json_or_empty(response)
                        pending.remove(running)
                if not pending:
                    return
                if self._stop.is_set():
                    raise KeyboardInterrupt
                if time.monotonic() > deadline:
                    names = ", ".join(r.spec.name for r in pending)
                    raise StackError(
                        f"not healthy after {timeout_s:.0f} s: {names}",
                        "see the log above; a first start builds the knowledge base, so allow it more with --timeout",
                    )
                time.sleep(0.25)

    # ---- run and stop ----

    def wait(self, poll_s: float = 0.2) -> _Running | None:
        """Block until a service exits (returned) or a stop is requested (None)."""
        while not self._stop.is_set():
            for running in self.running:
                if running.process.poll() is not None:
                    return running
            self._stop.wait(poll_s)
        return None

    def request_stop(self) -> None:
        """Ask `wait` to return (from a signal handler or another thread)."""
        self._stop.set()

    def stop(self) -> None:
        """Stop every service still running, the last started first: interrupt, then terminate, then kill."""
        for running in reversed(self.running):
            _interrupt(running.process)
        deadline = time.monotonic() + self.stop_timeout_s
        for running in reversed(self.running):
            remaining = max(0.1, deadline - time.monotonic())
            try:
                running.process.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                running.process.kill()
                running.process.wait()
        for running in self.running:
            if running.reader is not None:
                running.reader.join(timeout=5)

    def run(self, timeout_s: float, on_ready: Callable[[Supervisor], None] | None = None) -> int:
        """Start, report readiness, relay logs until Ctrl-C (exit code 0) or until a service stops (StackError)."""
        previous = _install_interrupt(self.request_stop)
        try:
            self.start(timeout_s)
            if on_ready is not None:
                on_ready(self)
            died = self.wait()
            if died is not None:
                raise self._died(died)
            return 0
        except KeyboardInterrupt:
            return 0
        finally:
            self.stop()
            _restore_interrupt(previous)


def _json_or_empty(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _interrupt(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    try:
        if sys.platform == "win32":
            process.send_signal(signal.CTRL_BREAK_EVENT)  # type: ignore[attr-defined]
        else:
            # uvicorn shuts down gracefully on SIGINT as on Ctrl-C in a terminal.
            process.send_signal(signal.SIGINT)
    except OSError:
        process.terminate()


def _install_interrupt(handler: Callable[[], None]) -> Any:
    # Signal handlers can only be set from the main thread (tests may run the supervisor elsewhere).
    if threading.current_thread() is not threading.main_thread():
        return None
    old_int = signal.signal(signal.SIGINT, lambda *_: handler())
    old_term = signal.signal(signal.SIGTERM, lambda *_: handler())
    return old_int, old_term


def _restore_interrupt(previous: Any) -> None:
    if previous is None:
        return
    old_int, old_term = previous
    signal.signal(signal.SIGINT, old_int)
    signal.signal(signal.SIGTERM, old_term)
