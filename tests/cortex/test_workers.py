"""CORTEX with two worker processes on PostgreSQL: ingesting and querying at once loses and duplicates nothing."""

from __future__ import annotations

import asyncio
import collections
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.cortex.workers_server import LAUNCHER, clean_env, pids_seen, running_server

WORKERS = 2


def postgres_store_env(postgres_url: str, root: Path, workspace_prefix: str, **extra: str) -> dict[str, str]:
    """The environment of a server whose CORTEX store is a fresh workspace in the test PostgreSQL."""
    return clean_env(
        CORTEX_STORAGE="postgres",
        CORTEX_POSTGRES_URL=postgres_url,
        CORTEX_POSTGRES_WORKSPACE=f"{workspace_prefix}{uuid.uuid4().hex[:12]}",
        CORTEX_EMBEDDER="test-hashing",
        XDG_CACHE_HOME=str(root / "cache"),
        XDG_DATA_HOME=str(root / "xdg"),
        **extra,
    )


@pytest.fixture(scope="module")
def workers_url(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`synapse cortex serve --workers 2` on a store of its own in the test PostgreSQL."""
    root = tmp_path_factory.mktemp("cortex-workers")
    env = postgres_store_env(postgres_url, root, "w", CORTEX_DATA_DIR=str(root / "data"))
    with running_server(["cortex", "serve", "--workers", str(WORKERS)], env, root / "server.log") as url:
        yield url


def _paragraph(run: str, i: int) -> str:
    return (
        f"Report {run}-{i}: the heat exchanger number {i} of plant {run} fouls when the coolant flow drops; "
        f"operators flush line {i * 7} with hot water every {i % 9 + 2} days to keep the tubes clean."
    )


async def _ingest_and_query(url: str, texts: list[str], duplicates: int) -> tuple[list[str], list[int], set[str]]:
    """Upload every text (the first `duplicates` twice) while queries run; the ids, query statuses and pids."""
    pids: set[str] = set()
    # No kept-alive connections: each request may land on either worker.
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:

        async def upload(i: int, text: str) -> str:
            response = await client.post("/documents", files={"file": (f"report-{i}.txt", text.encode())})
            assert response.status_code == 202, response.text
            pids.add(response.headers["x-worker-pid"])
            return str(response.json()["id"])

        async def query(i: int) -> int:
            await asyncio.sleep(0.02 * i)  # spread over the ingest
            mode = "naive" if i % 2 else "hybrid"
            response = await client.post("/query", json={"query": f"heat exchanger {i} fouling", "mode": mode})
            pids.add(response.headers["x-worker-pid"])
            return response.status_code

        uploads = [upload(i, t) for i, t in enumerate(texts)] + [upload(i, texts[i]) for i in range(duplicates)]
        results = await asyncio.gather(*uploads, *(query(i) for i in range(20)))
    return [str(r) for r in results[: len(uploads)]], [int(r) for r in results[len(uploads) :]], pids


@pytest.mark.postgres
def test_two_workers_ingest_and_query_at_once(workers_url: str, postgres_url: str) -> None:
    run = uuid.uuid4().hex[:8]
    texts = [_paragraph(run, i) for i in range(40)]
    ids, statuses, pids = asyncio.run(_ingest_and_query(workers_url, texts, duplicates=10))
    assert statuses == [200] * 20
    assert len(pids) == WORKERS, f"requests reached only worker(s) {pids}"
    unique = set(ids)
    assert len(unique) == len(texts)  # a repeated upload gets the first one's id

    deadline = time.monotonic() + 120
    while True:
        listed = httpx.get(f"{workers_url}/documents", timeout=30).json()
        mine = [d for d in listed if d["id"] in unique]
        if all(d["status"] == "processed" for d in mine) and len(mine) == len(unique):
            break
        failed = [(d["name"], d["error"]) for d in mine if d["status"] == "failed"]
        assert not failed and time.monotonic() < deadline, (collections.Counter(d["status"] for d in mine), failed)
        time.sleep(0.5)
    assert sorted(d["id"] for d in mine) == sorted(unique)  # each once in CORTEX's list
    assert all(d["chunks"] >= 1 for d in mine)

    # LightRAG's own records: each document once in the status table and in the full documents.
    counts = asyncio.run(_lightrag_counts(postgres_url, sorted(unique)))
    assert counts == {"doc_status": len(unique), "doc_full": len(unique), "status_processed": len(unique)}

    # What one worker stored, the other finds: a query for one report answers from both.
    answered: dict[str, bool] = {}
    for _ in range(100):
        response = httpx.post(
            f"{workers_url}/query",
            json={"query": texts[7], "mode": "naive"},
            timeout=30,
            headers={"Connection": "close"},
        )
        assert response.status_code == 200
        found = any(f"{run}-7" in s["snippet"] for s in response.json()["sources"])
        answered[response.headers["x-worker-pid"]] = found
        if len(answered) == WORKERS:
            break
    assert answered and all(answered.values()) and len(answered) == WORKERS, answered


async def _lightrag_counts(url: str, ids: list[str]) -> dict[str, int]:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        status = await conn.fetch("SELECT id, status FROM lightrag_doc_status WHERE id = ANY($1::text[])", ids)
        full = await conn.fetchval("SELECT count(*) FROM lightrag_doc_full WHERE id = ANY($1::text[])", ids)
    finally:
        await conn.close()
    return {
        "doc_status": len(status),
        "doc_full": int(full),
        "status_processed": sum(1 for r in status if str(r["status"]).lower().endswith("processed")),
    }


def test_several_workers_refuse_the_file_store(tmp_path: Path) -> None:
    env = clean_env(CORTEX_DATA_DIR=str(tmp_path / "data"), CORTEX_EMBEDDER="test-hashing")
    done = subprocess.run(
        [sys.executable, str(LAUNCHER), "cortex", "serve", "--workers", "2", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    message = " ".join(done.stderr.split())  # rich wraps the message to the terminal's width
    assert done.returncode == 2, message
    assert "cannot run 2 workers" in message and "CORTEX_STORAGE=postgres" in message
    assert not (tmp_path / "data" / ".cortex.lock").exists()  # refused before anything was opened


def test_pids_helper_sees_one_worker_of_a_plain_server(tmp_path: Path) -> None:
    """One worker: every answer carries the same pid (the header the worker tests rely on)."""
    env = clean_env(CORTEX_DATA_DIR=str(tmp_path / "data"), CORTEX_EMBEDDER="test-hashing")
    with running_server(["cortex", "serve"], env, tmp_path / "server.log") as url:
        assert len(pids_seen(url, tries=8)) == 1


@pytest.mark.postgres
def test_synapse_workers_each_open_cortex_on_postgres(postgres_url: str, tmp_path: Path) -> None:
    """`synapse serve --workers 2` without SYNAPSE_CORTEX_URL: every worker opens the PostgreSQL store."""
    env = postgres_store_env(
        postgres_url,
        tmp_path,
        "s",
        CORTEX_DATA_DIR=str(tmp_path / "cortex"),
        SYNAPSE_DATA_DIR=str(tmp_path / "synapse"),
        SYNAPSE_BACKEND="ollama",
        OLLAMA_HOST="http://127.0.0.1:9",  # no model: /health says 503, but reports CORTEX
    )
    with running_server(["serve", "--workers", "2"], env, tmp_path / "server.log") as url:
        seen: dict[str, str] = {}
        for _ in range(200):
            response = httpx.get(f"{url}/health", timeout=30, headers={"Connection": "close"})
            seen[response.headers["x-worker-pid"]] = response.json()["cortex"].get("status", "")
            if len(seen) == 2 and all(s == "ok" for s in seen.values()):
                break
            time.sleep(0.05)
        assert len(seen) == 2 and all(s == "ok" for s in seen.values()), seen
