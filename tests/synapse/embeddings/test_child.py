"""The offline embedder in a child process: same vectors as in process, and a dead child costs no answers."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from synapse.embeddings import get_embedder
from synapse.embeddings.child import EmbeddingProcess, EmbeddingProcessClosed
from tests.conftest import HashingEmbedder

TEXTS = ["A lighter bracket that keeps its strength.", "Корпус редуктора из магниевого сплава."]


def _wait_ready(process: EmbeddingProcess, timeout: float = 120.0) -> int:
    process.start()
    deadline = time.monotonic() + timeout
    while process.pid is None:
        assert time.monotonic() < deadline, "the embedding process did not start"
        time.sleep(0.05)
    return process.pid


def test_child_embeds_like_this_process_and_survives_its_death(caplog: pytest.LogCaptureFixture) -> None:
    process = EmbeddingProcess("use-multilingual")
    try:
        assert process.embed(TEXTS) is None  # not ready yet: the caller embeds itself, it never waits
        pid = _wait_ready(process)
        assert pid != os.getpid()
        vectors = process.embed(TEXTS)
        assert vectors is not None and vectors.dtype == np.float32
        np.testing.assert_allclose(vectors, get_embedder("use-multilingual").embed(TEXTS), atol=1e-5)

        os.kill(pid, signal.SIGKILL)
        with caplog.at_level("WARNING"):
            assert process.embed(TEXTS) is None
        assert "embedding process failed" in caplog.text
        assert process.pid is None and process.embed(TEXTS) is None  # stays off, starts no new child
    finally:
        process.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.skipif(sys.platform == "win32", reason="probes the child with signal 0")
def test_close_ends_a_child_busy_with_a_long_batch() -> None:
    """A server shutting down must not wait for the batch in flight (a minute of texts and more here)."""
    process = EmbeddingProcess("use-multilingual")
    rng = random.Random(14)
    words = ("heat", "exchanger", "coolant", "flow", "pump", "valve", "bracket", "casting", "lattice", "fatigue")
    long_batch = [" ".join(rng.choice(words) for _ in range(120)) for _ in range(1000)]
    outcome: list[object] = []

    def embed() -> None:
        try:
            outcome.append(process.embed(long_batch))
        except Exception as exc:
            outcome.append(exc)

    try:
        pid = _wait_ready(process)
        caller = threading.Thread(target=embed)
        caller.start()
        time.sleep(1.0)  # the batch is in the child
        process.close()
        caller.join(timeout=10)
        assert not caller.is_alive(), "the caller still waits for the batch after close"
        assert len(outcome) == 1 and isinstance(outcome[0], EmbeddingProcessClosed), outcome
        deadline = time.monotonic() + 10
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(pid), "the child still runs after close"
    finally:
        process.close()


def test_only_registry_embedders_run_in_a_child() -> None:
    assert EmbeddingProcess.supports(get_embedder("use-multilingual"))
    assert not EmbeddingProcess.supports(HashingEmbedder())
    with pytest.raises(ValueError, match="not a registry embedder"):
        EmbeddingProcess("test-hashing")


def test_a_script_without_a_main_guard_runs_once(tmp_path: Path) -> None:
    """Spawn re-imports the parent's script in the child; a script without a guard must not run twice."""
    marker = tmp_path / "runs.txt"
    script = tmp_path / "unguarded.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import time
            from synapse.embeddings.child import EmbeddingProcess

            with open({str(marker)!r}, "a") as fh:
                fh.write("ran\\n")
            process = EmbeddingProcess("use-multilingual")
            process.start()
            deadline = time.monotonic() + 120
            while process.pid is None and time.monotonic() < deadline:
                time.sleep(0.05)
            print("served" if process.embed(["a bracket"]) is not None else "fell back")
            process.close()
            """
        )
    )
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "served", done.stderr
    assert marker.read_text().splitlines() == ["ran"]
