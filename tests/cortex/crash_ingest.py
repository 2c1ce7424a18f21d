"""A concurrent ingest into a real `synapse cortex serve`, killed with SIGKILL at a chosen moment.

`crash_run` uploads distinct notes 8 at a time, kills the server's whole process group once `kill_after`
uploads have been answered 202 (or a moment after the last one), starts it again on the same store,
uploads once more every note that got no answer (as a client retries) and a few that did, and waits
until nothing is unfinished. What the store then holds is the caller's to judge.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.cortex.workers_server import LAUNCHER
from tests.pg_server import free_port

PARALLEL = 8


def note(i: int) -> str:
    """A short note whose three code words appear in no other note: its distinctive sentence."""
    return f"Record {i}. {sentence(i)} Engineers keep the valve of this unit closed at night."


def sentence(i: int) -> str:
    return f"Kestrel{i}q marlin{i}vo tamber{i}ux."


@dataclass
class Server:
    """One `synapse cortex serve` process (with the tests' fake embedder) and its log."""

    env: dict[str, str]
    log: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 180) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, str(LAUNCHER), "cortex", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"the server exited with {self.proc.returncode}:\n{self.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/health", timeout=5).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise AssertionError(f"the server did not become healthy in {timeout:.0f} s:\n{self.tail()}")
            time.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL to the whole process group: the server and any child it started."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class CrashReport:
    accepted: dict[int, str]  # note number -> document id answered 202 before the kill
    retried: dict[int, str]  # note number -> document id answered 202 after the restart
    documents: list[dict[str, object]]  # GET /documents once nothing is unfinished


async def _upload(client: httpx.AsyncClient, i: int) -> str | None:
    try:
        response = await client.post("/documents", files={"file": (f"note-{i:03d}.txt", note(i).encode())})
    except httpx.HTTPError:
        return None
    if response.status_code != 202:
        raise AssertionError(f"note {i}: {response.status_code} {response.text}")
    return str(response.json()["id"])


async def _ingest_until_killed(server: Server, n: int, kill_after: int, linger_s: float) -> dict[int, str]:
    accepted: dict[int, str] = {}
    killed = asyncio.Event()
    gate = asyncio.Semaphore(PARALLEL)

    async def one(client: httpx.AsyncClient, i: int) -> None:
        async with gate:
            if killed.is_set():
                return
            doc_id = await _upload(client, i)
            if doc_id is not None and not killed.is_set():
                accepted[i] = doc_id
                if len(accepted) >= kill_after:
                    if linger_s:
                        await asyncio.sleep(linger_s)
                    killed.set()
                    server.kill()

    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        await asyncio.gather(*(one(client, i) for i in range(n)))
    server.kill()
    return accepted


async def _retry_and_wait(server: Server, n: int, accepted: dict[int, str], timeout: float) -> CrashReport:
    retried: dict[int, str] = {}
    again = [i for i in range(n) if i not in accepted] + sorted(accepted)[:5]
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        for start in range(0, len(again), PARALLEL):
            part = again[start : start + PARALLEL]
            ids = await asyncio.gather(*(_upload(client, i) for i in part))
            for i, doc_id in zip(part, ids, strict=True):
                assert doc_id is not None, f"note {i} could not be uploaded after the restart"
                retried[i] = doc_id
        deadline = time.monotonic() + timeout
        while True:
            response = await client.get("/documents", params={"status": ["pending", "processing"]})
            response.raise_for_status()
            if not response.json():
                break
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{len(response.json())} documents still unfinished {timeout:.0f} s after the restart, e.g. "
                    f"{response.json()[:3]}\n{server.tail()}"
                )
            await asyncio.sleep(0.5)
        documents = (await client.get("/documents")).json()
    return CrashReport(accepted=accepted, retried=retried, documents=documents)


@contextlib.contextmanager
def crashed_store(
    env: dict[str, str], root: Path, *, n: int, kill_after: int, linger_s: float = 0.0
) -> Iterator[tuple[CrashReport, Server]]:
    """Ingest `n` notes, SIGKILL the server after `kill_after` answers 202, restart it, finish the ingest.

    Yields the report and the restarted server, still running; it is stopped (SIGTERM) afterwards.
    """
    server = Server(env=env, log=root / "server.log")
    server.start()
    try:
        accepted = asyncio.run(_ingest_until_killed(server, n, kill_after, linger_s))
        server.start()
        yield asyncio.run(_retry_and_wait(server, n, accepted, timeout=240)), server
    finally:
        server.stop()


def query_top(url: str, text: str, api_key: str = "") -> list[dict[str, object]]:
    headers = {"X-API-Key": api_key} if api_key else {}
    response = httpx.post(
        f"{url}/query", json={"query": text, "mode": "naive", "top_k": 5}, headers=headers, timeout=60
    )
    response.raise_for_status()
    return list(response.json()["sources"])
