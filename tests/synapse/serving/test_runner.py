"""The serving helpers in process: the pid header, the Windows refusal, the store checks."""

from __future__ import annotations

import os

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from synapse.config import CortexSettings
from synapse.errors import SynapseError
from synapse.serving import PID_HEADER, WorkerPidHeader, WorkersUnsupportedError, check_cortex_store, check_platform


def test_every_response_carries_the_worker_pid() -> None:
    app = FastAPI()

    @app.get("/ping")
    def ping() -> dict[str, str]:
        return {"pong": "yes"}

    with TestClient(WorkerPidHeader(app)) as client:
        for path in ("/ping", "/missing"):
            assert client.get(path).headers[PID_HEADER] == str(os.getpid())


def test_windows_refuses_several_workers_and_names_the_alternatives(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.platform", "win32")
    check_platform(1)  # one worker is plain uvicorn: fine everywhere
    with pytest.raises(WorkersUnsupportedError) as caught:
        check_platform(4)
    assert "gunicorn" in caught.value.message and "Windows" in caught.value.message
    assert "compose" in (caught.value.hint or "") and "WSL" in (caught.value.hint or "")


def test_macos_needs_the_fork_safety_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.platform", "darwin")
    monkeypatch.delenv("OBJC_DISABLE_INITIALIZE_FORK_SAFETY", raising=False)
    with pytest.raises(WorkersUnsupportedError, match="OBJC_DISABLE_INITIALIZE_FORK_SAFETY"):
        check_platform(2)
    monkeypatch.setenv("OBJC_DISABLE_INITIALIZE_FORK_SAFETY", "YES")
    check_platform(2)


def test_only_the_file_store_is_refused_for_several_workers() -> None:
    file_store = CortexSettings(storage="file")
    check_cortex_store(file_store, 1, what="CORTEX")
    with pytest.raises(SynapseError, match="cannot run 2 workers"):
        check_cortex_store(file_store, 2, what="CORTEX")
    check_cortex_store(CortexSettings(storage="postgres", postgres_url="postgresql://u@h/d"), 8, what="CORTEX")
