"""`synapse serve` as a user starts it: a real process, settings from the environment."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.synapse.api.conftest import free_port


def test_serve_answers_503_naming_the_setting_when_ollama_is_down(isolated_env: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "SYNAPSE_BACKEND": "ollama",
        "OLLAMA_HOST": f"127.0.0.1:{free_port()}",  # nothing listens there
        "SYNAPSE_CORTEX_URL": f"http://127.0.0.1:{free_port()}",
        "SYNAPSE_EMBEDDER": "none",
        "SYNAPSE_API_KEYS": "k",
    }
    synapse = Path(sys.executable).with_name("synapse")
    log = (isolated_env / "serve.log").open("wb")
    proc = subprocess.Popen(
        [str(synapse), "serve", "--port", str(port), "--log-level", "warning"], env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                health = httpx.get(f"{url}/health", timeout=5)
                break
            except httpx.HTTPError:
                started = proc.poll() is None and time.monotonic() < deadline
                assert started, (isolated_env / "serve.log").read_text(errors="replace")
                time.sleep(0.2)
        assert health.status_code == 503 and health.json()["backends"][0]["backend"] == "ollama"
        assert health.json()["cortex"]["status"] == "down"
        body = {"model": "triz-agent", "messages": [{"role": "user", "content": "hi"}]}
        r = httpx.post(f"{url}/v1/chat/completions", json=body, headers={"X-API-Key": "k"}, timeout=30)
        assert r.status_code == 503
        message = r.json()["error"]["message"]
        assert "OLLAMA_HOST" in message and "SYNAPSE_FALLBACK=llamacpp" in message
        assert httpx.get(f"{url}/v1/models", timeout=10).status_code == 401
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()
