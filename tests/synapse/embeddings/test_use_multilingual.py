"""The shipped multilingual embedder works offline and crosses Russian and English."""

from __future__ import annotations

import numpy as np
import pytest

from synapse.embeddings import get_embedder
from synapse.errors import SynapseError
from tests.conftest import HashingEmbedder


@pytest.mark.slow
def test_use_multilingual_cross_lingual() -> None:
    emb = get_embedder("use-multilingual")
    v = emb.embed(["speed of the rocket", "скорость ракеты", "weight of the bridge"])
    assert v.shape == (3, 512) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    assert v[0] @ v[1] > v[0] @ v[2]


def test_unknown_embedder_names_the_setting() -> None:
    with pytest.raises(SynapseError, match="SYNAPSE_EMBEDDER"):
        get_embedder("no-such-embedder")


def test_base_normalises_and_handles_empty() -> None:
    emb = HashingEmbedder()
    assert emb.embed([]).shape == (0, 256)
    v = emb.embed(["weight weight speed", ""])
    assert np.isclose(np.linalg.norm(v[0]), 1.0)
    assert not v[1].any()


async def _aembed() -> np.ndarray:
    return await HashingEmbedder().aembed(["speed"])


def test_aembed_matches_embed() -> None:
    import asyncio

    assert np.allclose(asyncio.run(_aembed()), HashingEmbedder().embed(["speed"]))
