"""SIGKILL in the middle of a 300-document concurrent ingest loses and duplicates nothing that was answered 202.

Each case runs a real `synapse cortex serve` (fake embedder), kills it at one moment of the ingest, starts it
again on the same store and lets the client upload once more what got no answer. Then every note answered
202 must be `processed` with its chunk, found first by its distinctive sentence (naive retrieval), stored
once, and `synapse cortex check` must find the store consistent.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.cortex.crash_ingest import CrashReport, Server, crashed_store, note, query_top
from tests.cortex.test_workers import postgres_store_env
from tests.cortex.workers_server import LAUNCHER, clean_env

pytestmark = pytest.mark.slow

N = 300
_SEED = random.Random(14)
# (answers before the kill, seconds to wait after it): early, half-way, just after the last 202.
KILL_POINTS = {
    "early": (_SEED.randint(15, 60), 0.0),
    "half-way": (_SEED.randint(120, 180), 0.0),
    "after-last-202": (N, 0.3),
}


def _file_env(root: Path) -> dict[str, str]:
    return clean_env(
        CORTEX_DATA_DIR=str(root / "data"),
        CORTEX_EMBEDDER="test-hashing",
        XDG_CACHE_HOME=str(root / "cache"),
        XDG_DATA_HOME=str(root / "xdg"),
    )


def _check_store(env: dict[str, str]) -> dict[str, object]:
    """`synapse cortex check --json` on the stopped store."""
    done = subprocess.run(
        [sys.executable, str(LAUNCHER), "cortex", "check", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"cortex check exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    report: dict[str, object] = json.loads(done.stdout)
    return report


def _assert_complete(report: CrashReport, server: Server) -> None:
    by_name = {str(d["name"]): d for d in report.documents}
    names = Counter(str(d["name"]) for d in report.documents)
    twice = [name for name, count in names.items() if count > 1]
    assert not twice, f"stored twice: {twice[:5]}"
    answered = {**report.accepted, **report.retried}
    for i, doc_id in answered.items():
        assert report.retried.get(i, doc_id) == doc_id, f"note {i} got two ids"
    assert len(answered) == N and len(report.documents) == N, (len(answered), len(report.documents))
    unfinished = [(n, d["status"], d.get("error")) for n, d in by_name.items() if d["status"] != "processed"]
    assert not unfinished, f"{len(unfinished)} documents not processed, e.g. {unfinished[:5]}"
    no_chunks = [n for n, d in by_name.items() if not d["chunks"]]
    assert not no_chunks, f"{len(no_chunks)} processed documents without chunks, e.g. {no_chunks[:5]}"
    missed, doubled = [], []
    for i in sorted(answered):
        name = f"note-{i:03d}.txt"
        # The whole note as the query: pgvector's HNSW search is approximate, and a query sharing no word with
        # all the other notes gives its walk nothing to follow. The fake embedder hashes words into 256
        # slots, so a TRIZ text may outrank the note; no other note may.
        docs = [s["document"] for s in query_top(server.url, note(i)) if s.get("document")]
        if not docs or docs[0] != name:
            missed.append((i, docs[:3]))
        if docs.count(name) > 1:
            doubled.append(i)
    assert not missed, f"{len(missed)} of {len(answered)} notes not found first by their sentence, e.g. {missed[:5]}"
    assert not doubled, f"notes whose chunk came back twice: {doubled[:5]}"


def _run(env: dict[str, str], root: Path, point: str) -> None:
    kill_after, linger = KILL_POINTS[point]
    with crashed_store(env, root, n=N, kill_after=kill_after, linger_s=linger) as (report, server):
        assert len(report.accepted) >= min(kill_after, N), "the kill came before the planned point"
        _assert_complete(report, server)
    check = _check_store(env)
    assert check["problems"] == [], f"the store is inconsistent after the crash: {check['problems'][:5]}"  # type: ignore[index]
    assert check["documents"] == N


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_crash_during_ingest_file_store(point: str, tmp_path: Path) -> None:
    _run(_file_env(tmp_path), tmp_path, point)


@pytest.mark.postgres
@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_crash_during_ingest_postgres(point: str, postgres_url: str, tmp_path: Path) -> None:
    env = postgres_store_env(postgres_url, tmp_path, "crash", CORTEX_DATA_DIR=str(tmp_path / "data"))
    _run(env, tmp_path, point)
