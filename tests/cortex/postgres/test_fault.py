"""The database killed mid-ingestion: nothing is marked done that was not stored, and a restart completes it.

A CORTEX process (tests/cortex/postgres/fault_child.py) uploads 40 documents into a PostgreSQL server that
this test started; while it embeds the third batch, the test kills the server (`pg_ctl stop -m immediate`:
its processes exit without a shutdown, as in a crash), then kills the CORTEX process as well (a crash of
both: what matters here is what the store holds afterwards; test_outage.py has CORTEX ride out an outage
without a restart). The server comes back on the same data; a new CORTEX on the same store finishes the
documents.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cortex import Cortex, CortexHealth, QueryRequest
from tests.conftest import REPO, HashingEmbedder
from tests.cortex.postgres.conftest import pg_settings, store_name
from tests.cortex.postgres.fault_child import document
from tests.pg_server import LocalPostgres

pytestmark = [pytest.mark.postgres, pytest.mark.asyncio]

N_DOCS = 40


def _rows(server: LocalPostgres, sql: str) -> list[list[str]]:
    return [line.split("|") for line in server.psql(sql).splitlines() if line]


def _workspace(server: LocalPostgres, store: str) -> str:
    rows = _rows(server, f"SELECT manifest->>'workspace' FROM cortex_manifest WHERE store = '{store}'")
    return rows[0][0]


def _crash_mid_ingestion(server: LocalPostgres, data_dir: Path, store: str) -> None:
    """Run the uploading CORTEX, kill the database in the middle, then kill CORTEX."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.cortex.postgres.fault_child", str(data_dir), server.url(), store, str(N_DOCS)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=REPO,
        env=env,
    )
    try:
        assert child.stdout is not None
        lines = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = child.stdout.readline().strip()
            lines.append(line)
            if line == "MID" or not line:
                break
        assert lines[-1] == "MID", f"the CORTEX process ended before the third batch: {lines}"
        server.stop(mode="immediate")
        time.sleep(4)  # the pipeline meets the dead server
    finally:
        child.kill()
        child.wait()


async def test_killing_the_database_mid_ingestion_loses_and_duplicates_nothing(
    own_server: LocalPostgres, tmp_path: Path
) -> None:
    data_dir, store = tmp_path / "store", store_name()
    _crash_mid_ingestion(own_server, data_dir, store)
    assert not own_server.running()

    own_server.start()
    workspace = _workspace(own_server, store)
    status = dict(_rows(own_server, f"SELECT id, status FROM lightrag_doc_status WHERE workspace = '{workspace}'"))
    with_chunks = {
        r[0]
        for r in _rows(
            own_server,
            f"SELECT DISTINCT full_doc_id FROM lightrag_doc_chunks WHERE workspace = '{workspace}'",
        )
    }
    processed = {d for d, s in status.items() if s == "processed"}
    assert len(status) == N_DOCS  # every upload was recorded before the crash
    assert len(processed) < N_DOCS, "everything was done before the crash: the test proved nothing"
    assert processed <= with_chunks  # nothing marked done that was not stored
    settings = pg_settings(data_dir, own_server.url(), store)

    embedder = HashingEmbedder()
    async with Cortex(settings, embedder=embedder, cache_dir=tmp_path / "cache") as again:  # the restart
        await again.wait_idle(120)
        docs = await again.list_documents()
        assert len(docs) == N_DOCS
        assert all(d.status == "processed" and d.chunks == 1 for d in docs), [(d.name, d.status, d.error) for d in docs]
        hit = await again.query(QueryRequest(query="faultdoc 17 pump line 119", mode="naive", top_k=3))
        assert any(s.document == "d17.txt" for s in hit.sources)
        vector_table = str(again.rag.chunks_vdb.table_name).lower()
    assert embedder.encoded >= N_DOCS - len(processed)  # the unfinished ones were embedded by the restart

    w = workspace
    counts = _rows(
        own_server,
        f"SELECT (SELECT count(*) FROM lightrag_doc_status WHERE workspace = '{w}' AND status = 'processed'),"
        f" (SELECT count(*) FROM lightrag_doc_full WHERE workspace = '{w}'),"
        f" (SELECT count(*) FROM lightrag_doc_chunks WHERE workspace = '{w}' AND full_doc_id LIKE 'doc-%'),"
        f" (SELECT count(*) FROM {vector_table} WHERE workspace = '{w}' AND full_doc_id LIKE 'doc-%')",
    )
    assert counts == [[str(N_DOCS)] * 4]  # none lost, none twice
    assert document(17).decode() in own_server.psql(
        f"SELECT content FROM lightrag_doc_full WHERE workspace = '{w}' AND content LIKE 'faultdoc 17:%'"
    )


async def test_health_says_degraded_while_the_database_is_down(own_server: LocalPostgres, tmp_path: Path) -> None:
    settings = pg_settings(tmp_path / "store", own_server.url(), store_name())
    async with Cortex(settings, embedder=HashingEmbedder(), cache_dir=tmp_path / "cache") as cortex:
        up = await cortex.health()
        assert up.status == "ok" and "PGVectorStorage" in up.storage
        own_server.stop(mode="immediate")
        down = await _health_becomes(cortex, "degraded")  # /health reuses a probe's answer for a moment
        assert own_server.url().split("@")[1] in (down.reason or "")
        own_server.start()
        assert (await _health_becomes(cortex, "ok")).reason is None


async def _health_becomes(cortex: Cortex, status: str, timeout: float = 15.0) -> CortexHealth:
    deadline = time.monotonic() + timeout
    while (health := await asyncio.wait_for(cortex.health(), timeout)).status != status:
        assert time.monotonic() < deadline, f"/health did not say {status} within {timeout:.0f} s: {health}"
        await asyncio.sleep(0.2)
    return health
