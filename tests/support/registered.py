"""Embedders registered by name for one test: the registry belongs to the process, so each test restores it."""

from __future__ import annotations

import pytest

from synapse.embeddings import EMBEDDERS, Embedder


def register_embedder(monkeypatch: pytest.MonkeyPatch, embedder: type[Embedder]) -> None:
    """Make `embedder.name` resolvable (a fresh shared instance) until the test ends."""
    monkeypatch.setitem(EMBEDDERS._exact, embedder.name, embedder)
    monkeypatch.setitem(EMBEDDERS._shared, embedder.name, embedder())
