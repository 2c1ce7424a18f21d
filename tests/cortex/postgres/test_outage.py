"""PostgreSQL going away under a running CORTEX: 503s at once, /health says so, CORTEX takes up again by itself.

Three ways for the database to go: stopped as in a crash (`pg_ctl stop -m immediate`) under a real
`synapse cortex serve` with documents in flight, frozen (SIGSTOP: connections open, nothing answers) under
an in-process CORTEX, and gone altogether under one LightRAG call. Every wait in here is bounded: a request
that hangs fails the test instead of hanging it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from cortex import Cortex, CortexUnavailableError, QueryRequest
from cortex.storage.postgres import PgTarget
from tests.conftest import HashingEmbedder
from tests.cortex.postgres.conftest import pg_settings, store_name
from tests.cortex.workers_server import clean_env
from tests.pg_server import LocalPostgres, free_port

pytestmark = pytest.mark.postgres
T = TypeVar("T")

LAUNCHER = Path(__file__).with_name("outage_launcher.py")
SECRET = "hunter2"  # in the URL; the test servers trust every login, and no message may show it
REQUEST_BOUND_S = 10.0  # a request that takes longer than this during an outage counts as hanging
N_DOCS = 6


async def _within(seconds: float, awaitable: Awaitable[T]) -> T:
    """The awaitable's result, or a test failure once `seconds` have passed.

    Unlike asyncio.wait_for this does not wait for the cancelled call to finish: a call stuck where
    cancelling cannot reach (a connection's shielded reset on a frozen server) fails the test, not hangs it.
    """
    task = asyncio.ensure_future(awaitable)
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if not done:
        task.cancel()
        pytest.fail(f"no answer within {seconds:g} s: {awaitable!r}")
    return task.result()


def _document(i: int) -> bytes:
    return f"outagedoc {i}: the pump number {i} of line {i * 7} runs hot at {20 + i} degrees; coolant {i}.".encode()


@contextlib.contextmanager
def _serve(env: dict[str, str], log: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`synapse cortex serve` (with the slow fake embedder) until /health answers; killed if still running."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, str(LAUNCHER), "cortex", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 180
        while _health(url) is None:
            assert proc.poll() is None, f"CORTEX exited with {proc.returncode}:\n{log.read_text(errors='replace')}"
            assert time.monotonic() < deadline, f"CORTEX did not answer:\n{log.read_text(errors='replace')}"
            time.sleep(0.3)
        yield url, proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _health(url: str) -> dict[str, Any] | None:
    with contextlib.suppress(httpx.HTTPError, ValueError):
        body: dict[str, Any] = httpx.get(f"{url}/health", timeout=REQUEST_BOUND_S).json()
        return body
    return None


def _wait_health(url: str, status: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        health = _health(url)
        if health is not None and health["status"] == status:
            return health
        assert time.monotonic() < deadline, f"/health did not say {status} within {timeout:.0f} s: {health}"
        time.sleep(0.3)


def _wait_processed(client: httpx.Client, ids: list[str], timeout: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        docs = {d["id"]: d for d in client.get("/documents").json()}
        mine = [docs.get(i) for i in ids]
        if all(d is not None and d["status"] in ("processed", "failed") for d in mine):
            return [d for d in mine if d is not None]
        assert time.monotonic() < deadline, f"documents not processed within {timeout:.0f} s: {mine}"
        time.sleep(0.5)


def _rows(server: LocalPostgres, sql: str) -> list[list[str]]:
    return [line.split("|") for line in server.psql(sql).splitlines() if line]


def _stored_once(server: LocalPostgres, store: str) -> list[list[str]]:
    """Per LightRAG table, how many rows the outage documents have: N each means none lost, none twice."""
    w = _rows(server, f"SELECT manifest->>'workspace' FROM cortex_manifest WHERE store = '{store}'")[0][0]
    mine = "LIKE 'doc-%'"
    return _rows(
        server,
        f"SELECT (SELECT count(*) FROM lightrag_doc_status WHERE workspace = '{w}' AND status = 'processed'"
        f"   AND id {mine}),"
        f" (SELECT count(*) FROM lightrag_doc_full WHERE workspace = '{w}' AND id {mine}),"
        f" (SELECT count(*) FROM lightrag_doc_chunks WHERE workspace = '{w}' AND full_doc_id {mine})",
    )


def _assert_outage_error(response: httpx.Response, where: str) -> None:
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert where in error["message"] and SECRET not in error["message"], error
    assert "start the database" in error["hint"], error


def test_a_database_restart_gets_503s_then_cortex_carries_on_without_a_restart(
    own_server: LocalPostgres, tmp_path: Path
) -> None:
    store = store_name()
    where = f"127.0.0.1:{own_server.port}/postgres"
    env = clean_env(
        CORTEX_STORAGE="postgres",
        CORTEX_POSTGRES_URL=f"postgresql://postgres:{SECRET}@{where}",
        CORTEX_POSTGRES_WORKSPACE=store,
        CORTEX_EMBEDDER="test-slow-hashing",
        CORTEX_EMBED_PROCESS="false",  # the slow embedder is registered in this process only
        CORTEX_DATA_DIR=str(tmp_path / "data"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        XDG_DATA_HOME=str(tmp_path / "xdg"),
    )
    with _serve(env, tmp_path / "server.log") as (url, proc), httpx.Client(base_url=url, timeout=REQUEST_BOUND_S) as c:
        assert _wait_health(url, "ok", 30).get("reason") is None
        uploads = [c.post("/documents", files={"file": (f"d{i}.txt", _document(i))}) for i in range(N_DOCS)]
        assert [r.status_code for r in uploads] == [202] * N_DOCS, [r.text for r in uploads]
        ids = [r.json()["id"] for r in uploads]
        before = [d["status"] for d in c.get("/documents").json()]
        assert before.count("processed") < N_DOCS, "all done before the outage: the test would prove nothing"

        own_server.stop(mode="immediate")  # a crash, as far as CORTEX can tell
        _wait_health(url, "degraded", 30)
        question = {"query": "outagedoc pump line coolant", "mode": "naive", "top_k": 3}
        _assert_outage_error(c.post("/query", json=question), where)
        _assert_outage_error(c.get("/documents"), where)
        _assert_outage_error(c.post("/documents", files={"file": ("late.txt", _document(99))}), where)
        down = _wait_health(url, "degraded", 30)
        assert where in down["reason"] and SECRET not in down["reason"], down

        own_server.start()  # the same data: CORTEX reconnects and finishes what it had accepted
        _wait_health(url, "ok", 60)
        assert c.post("/query", json=question).status_code == 200
        docs = _wait_processed(c, ids, 180)
        assert [(d["status"], d["chunks"]) for d in docs] == [("processed", 1)] * N_DOCS, docs
        assert len(c.get("/documents").json()) == N_DOCS  # the upload refused during the outage left nothing
        assert _stored_once(own_server, store) == [[str(N_DOCS)] * 3]

        own_server.stop(mode="immediate")
        _wait_health(url, "degraded", 30)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pytest.fail("CORTEX did not exit within 10 s of SIGTERM with its database down")


@pytest.mark.asyncio
async def test_a_silent_database_gets_503s_and_cannot_hold_up_the_shutdown(
    own_server: LocalPostgres, tmp_path: Path
) -> None:
    where = f"127.0.0.1:{own_server.port}/postgres"
    settings = pg_settings(tmp_path / "store", own_server.url(), store_name())
    cortex = Cortex(settings, embedder=HashingEmbedder(), cache_dir=tmp_path / "cache")
    await cortex.start()
    question = QueryRequest(query="outagedoc pump line coolant", mode="naive", top_k=3)
    try:
        await cortex.add_document("pump.txt", _document(1))
        await cortex.wait_idle(60)
        assert any(s.document == "pump.txt" for s in (await cortex.query(question)).sources)

        own_server.pause()  # connections stay open, nothing answers
        with pytest.raises(CortexUnavailableError) as info:
            await _within(30, cortex.query(question))
        assert where in info.value.message
        health = await _within(REQUEST_BOUND_S, cortex.health())
        assert health.status == "degraded" and where in (health.reason or ""), health

        own_server.resume()
        deadline = time.monotonic() + 30
        while (await _within(REQUEST_BOUND_S, cortex.health())).status != "ok":
            assert time.monotonic() < deadline, "CORTEX did not see its database back"
            await asyncio.sleep(0.3)
        hit = await _within(30, cortex.query(question))  # the same process, on new connections
        assert any(s.document == "pump.txt" for s in hit.sources)
        own_server.pause()
    finally:
        try:
            await _within(10, cortex.aclose())  # whatever the database does
        finally:
            own_server.resume()


@pytest.fixture
def restored_env() -> Iterator[None]:
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.mark.asyncio
@pytest.mark.usefixtures("restored_env")
async def test_a_lightrag_call_into_a_lost_database_fails_fast_instead_of_waiting_forever() -> None:
    """LightRAG's retry took a lock its own pool rebuild held: one call waited forever, and so did all after."""
    from lightrag.kg.postgres_impl import ClientManager, PostgreSQLDB  # type: ignore[import-untyped]

    where = f"127.0.0.1:{free_port()}/rag"  # nothing listens there
    PgTarget.parse(f"postgresql://cortex:{SECRET}@{where}").apply_env()
    db = PostgreSQLDB(ClientManager.get_config(vector_storage="PGVectorStorage"))
    with pytest.raises(CortexUnavailableError) as info:
        await _within(30, db.query("SELECT 1"))
    assert where in info.value.message and SECRET not in info.value.message
    assert "start the database" in (info.value.hint or "")
