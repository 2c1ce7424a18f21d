"""The offline embedder in a child process: same vectors as in process, and a dead child costs no answers."""

from __future__ import annotations

import os
import signal
import time

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
