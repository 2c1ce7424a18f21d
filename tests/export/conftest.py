"""A tiny random Qwen2 base and LoRA adapter, built once per test session (no downloads)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from export.synthetic import build_random_qwen2

    return build_random_qwen2(tmp_path_factory.mktemp("tiny") / "base")


@pytest.fixture(scope="session")
def tiny_adapter(tiny_base: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from export.synthetic import build_random_lora

    return build_random_lora(tiny_base, tmp_path_factory.mktemp("tiny-lora") / "adapter")
