"""`synapse up` on stand-in services: the ready banner, the prefixed logs, and the exit when one stops."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

import synapse.stack
from synapse.cli.app import app
from tests.synapse.stack.test_supervisor import dummy


def test_up_prints_urls_model_and_embedder_then_stops_when_one_dies(monkeypatch: pytest.MonkeyPatch) -> None:
    specs = [dummy("cortex"), dummy("synapse", "--die-after", "3"), dummy("terminal")]
    monkeypatch.setattr(synapse.stack, "stack_specs", lambda ports: specs)
    monkeypatch.setenv("TERMINAL_PASSWORD", "pw")
    result = CliRunner().invoke(app, ["up", "--timeout", "30"])
    out = result.output
    assert result.exit_code == 1, out
    assert "ready in" in out and f"Neuro-Terminal  {specs[2].url}" in out and "password from TERMINAL_PASSWORD" in out
    assert "embedder        dummy-embedder (8-d)" in out
    assert "  cortex │ cortex listening on" in out and " synapse │ synapse crashing" in out
    assert "error: synapse stopped with exit code 3" in out


def test_up_help() -> None:
    result = CliRunner().invoke(app, ["up", "--help"])
    assert result.exit_code == 0 and "--terminal-port" in result.output and "--timeout" in result.output
