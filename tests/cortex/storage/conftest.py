"""Side-by-side storages: CORTEX's and LightRAG's own, in one working directory, workspaces w1 and w2."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cortex.embedding import VectorMemo, lightrag_embedding
from tests.conftest import HashingEmbedder

PairFn = Callable[[type, type], tuple[Any, Any]]


@pytest.fixture
def storage_pair(tmp_path: Path) -> PairFn:
    """pair(Ours, Stock, namespace) -> (ours in workspace w1, stock in w2), LightRAG's shared state set up."""
    from lightrag.kg.shared_storage import initialize_share_data

    initialize_share_data(1)
    config: dict[str, Any] = {"working_dir": str(tmp_path)}
    embed = lightrag_embedding(VectorMemo(HashingEmbedder()))

    def pair(ours: type, stock: type, namespace: str = "s") -> tuple[Any, Any]:
        kwargs = {"namespace": namespace, "global_config": config, "embedding_func": embed}
        return ours(workspace="w1", **kwargs), stock(workspace="w2", **kwargs)

    return pair
