"""Shared fixtures: isolated settings and caches, the knowledge, a deterministic fake embedder."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from synapse.embeddings import Embedder, Vectors
from synapse.triz import TrizKnowledge, load_knowledge
from synapse.triz.text import stems

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


class HashingEmbedder(Embedder):
    """Bag-of-stems embedder: texts sharing word stems get similar vectors. Deterministic, instant."""

    name = "test-hashing"
    dim = 256

    def __init__(self) -> None:
        self.encoded = 0

    def _encode(self, texts: list[str]) -> Vectors:
        self.encoded += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for s in stems(text):
                h = int.from_bytes(hashlib.blake2b(s.encode(), digest_size=4).digest(), "little")
                out[row, h % self.dim] += 1.0
        return out


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own data/cache dirs and no settings from the developer's shell or .env."""
    for key in list(__import__("os").environ):
        if key.startswith(("SYNAPSE_", "CORTEX_", "TERMINAL_")) or key == "OLLAMA_HOST":
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def kb() -> TrizKnowledge:
    return load_knowledge()


@pytest.fixture
def hashing_embedder() -> HashingEmbedder:
    return HashingEmbedder()


def load_cases(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="session")
def dev_cases() -> list[dict[str, object]]:
    path = SHARED / "eval" / "contradictions_dev.jsonl"
    if not path.exists():
        pytest.skip(f"development set not found at {path}")
    return load_cases(path)


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random two-layer Qwen2 with a ChatML tokenizer (needs the export extra)."""
    pytest.importorskip("torch", reason="the export tests need the `export` extra")
    from tests.support.synthetic_models import build_random_qwen2

    return build_random_qwen2(tmp_path_factory.mktemp("tiny") / "base")


@pytest.fixture(scope="session")
def tiny_adapter(tiny_base: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.support.synthetic_models import build_random_lora

    return build_random_lora(tiny_base, tmp_path_factory.mktemp("tiny-lora") / "adapter")
