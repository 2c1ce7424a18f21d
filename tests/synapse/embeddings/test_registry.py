"""One registry for embedders: exact names and prefixes, errors that name the setting to fix."""

from __future__ import annotations

import pytest

from synapse.embeddings import Embedder, EmbedderRegistry, UnknownEmbedderError, Vectors, get_embedder


class _Tiny(Embedder):
    name = "tiny"
    dim = 2

    def _encode(self, texts: list[str]) -> Vectors:
        import numpy as np

        return np.ones((len(texts), 2), dtype=np.float32)


def test_exact_names_share_one_instance_and_prefixes_build_new_ones() -> None:
    registry = EmbedderRegistry()
    registry.register("tiny", _Tiny)
    built: list[tuple[str, str]] = []

    def by_model(model: str, setting: str) -> Embedder:
        built.append((model, setting))
        return _Tiny()

    registry.register_prefix("remote:", by_model, example="remote:<model>")
    assert registry.get("tiny") is registry.get("tiny")
    registry.get("remote: big ", setting="CORTEX_EMBEDDER")
    assert built == [("big", "CORTEX_EMBEDDER")]
    assert registry.names() == ["tiny"]


def test_an_unknown_name_names_the_setting_and_the_choices() -> None:
    with pytest.raises(UnknownEmbedderError) as raised:
        get_embedder("bogus", setting="CORTEX_EMBEDDER")
    assert "CORTEX_EMBEDDER" in str(raised.value) and "use-multilingual" in str(raised.value)
    with pytest.raises(UnknownEmbedderError, match="SYNAPSE_EMBEDDER"):
        get_embedder("bogus")


def test_cortex_registers_ollama_the_same_way() -> None:
    from cortex.embedding import resolve_embedder

    with pytest.raises(UnknownEmbedderError) as raised:
        resolve_embedder("bogus")
    assert "set CORTEX_EMBEDDER to one of: use-multilingual, ollama:<model>" in str(raised.value)
