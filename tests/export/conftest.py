"""Export fixtures: a random Qwen2 that ends its chat turns on its own, with a random adapter."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def stopping_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random two-layer Qwen2 (untied output) whose greedy chat reply is three tokens and `<|im_end|>`."""
    pytest.importorskip("torch", reason="the export tests need the `export` extra")
    from tests.support.synthetic_models import build_stopping_qwen2

    return build_stopping_qwen2(tmp_path_factory.mktemp("stopping") / "base")


@pytest.fixture(scope="session")
def stopping_adapter(stopping_base: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.support.synthetic_models import build_random_lora

    return build_random_lora(stopping_base, tmp_path_factory.mktemp("stopping-lora") / "adapter")
