"""The offline embedder in a child process: same vectors as in process, and a dead child costs no answers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from synapse.embeddings import get_embedder
from synapse.embeddings.child import EmbeddingProcess
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
