"""Settings come from defaults, `.env` and the environment, with per-service prefixes."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from synapse.config import (
    CortexSettings,
    ExportSettings,
    OllamaSettings,
    SynapseSettings,
    TerminalSettings,
    effective_settings,
)


def test_defaults_use_per_user_data_dir(isolated_env: Path) -> None:
    s = SynapseSettings()
    assert s.port == 8000 and CortexSettings().port == 8004 and TerminalSettings().port == 8501
    assert str(s.data_dir).startswith(str(isolated_env / "xdg-data"))
    assert s.data_dir != CortexSettings().data_dir


def test_env_prefixes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNAPSE_PORT", "9100")
    monkeypatch.setenv("TERMINAL_SYNAPSE_URL", "http://box:9100")
    assert SynapseSettings().port == 9100
    assert TerminalSettings().synapse_url == "http://box:9100"
    assert CortexSettings().port == 8004


def test_dotenv_file_is_read(isolated_env: Path) -> None:
    (isolated_env / ".env").write_text("CORTEX_PORT=8123\nOLLAMA_HOST=gpu-box\n", encoding="utf-8")
    assert CortexSettings().port == 8123
    assert OllamaSettings().host == "http://gpu-box:11434"


def test_export_profiles_setting(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert ExportSettings().profiles is None
    (isolated_env / ".env").write_text("SYNAPSE_EXPORT_PROFILES=~/my-profiles.toml\n", encoding="utf-8")
    assert ExportSettings().profiles == Path("~/my-profiles.toml")
    assert effective_settings()["export"]["profiles"] == str(Path("~/my-profiles.toml"))
    monkeypatch.setenv("SYNAPSE_EXPORT_PROFILES", "")
    assert ExportSettings().profiles is None


@pytest.mark.parametrize(
    ("raw", "url"),
    [
        ("0.0.0.0", "http://127.0.0.1:11434"),
        ("myhost:1234", "http://myhost:1234"),
        ("https://ollama.example:443", "https://ollama.example:443"),
        ("http://localhost:11434", "http://localhost:11434"),
    ],
)
def test_ollama_host_forms(monkeypatch: pytest.MonkeyPatch, raw: str, url: str) -> None:
    monkeypatch.setenv("OLLAMA_HOST", raw)
    assert OllamaSettings().host == url


def test_bad_port_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNAPSE_PORT", "70000")
    with pytest.raises(ValidationError, match="port"):
        SynapseSettings()
