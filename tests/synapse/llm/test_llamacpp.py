"""The embedded backend on the real SmolLM2 demo GGUF: streaming, stop strings, cancellation, the demo mark."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from synapse.llm import DEMO_WARNING, BackendUnavailableError, ChatMessage, GenerationOptions
from synapse.llm.llamacpp import EmbeddedConfig, LlamaCppBackend
from tests.synapse.llm.conftest import demo_backend

pytestmark = pytest.mark.slow
Q = [ChatMessage(role="user", content="Name three metals, one per line.")]


@pytest.fixture(scope="module")
def embedded() -> Iterator[LlamaCppBackend]:
    with demo_backend(n_ctx=1024) as backend:
        yield backend


@pytest.mark.asyncio
async def test_stream_counts_and_demo_mark(embedded: LlamaCppBackend) -> None:
    deltas = [d async for d in embedded.stream(Q, "smollm2-135m-demo", GenerationOptions(max_tokens=6, temperature=0))]
    text = "".join(d.content for d in deltas)
    final = deltas[-1]
    assert text.strip() and final.done and final.finish_reason == "length"
    assert final.prompt_tokens > 5 and 1 <= final.completion_tokens <= 7
    assert embedded.warnings("smollm2-135m-demo") == [DEMO_WARNING]
    health = await embedded.health()
    assert health.status == "ok" and health.demo and embedded.count_tokens("hello world") >= 2


@pytest.mark.asyncio
async def test_stop_string_ends_the_answer(embedded: LlamaCppBackend) -> None:
    greedy = GenerationOptions(max_tokens=24, temperature=0, seed=1)
    full = (await embedded.chat(Q, "smollm2-135m-demo", greedy)).content
    words = full.split()
    assert len(words) >= 3, full
    stop = words[2]
    cut = await embedded.chat(Q, "smollm2-135m-demo", greedy.model_copy(update={"stop": [stop]}))
    assert cut.finish_reason == "stop" and stop not in cut.content and full.startswith(cut.content)


@pytest.mark.asyncio
async def test_closing_the_stream_cancels_and_frees_the_worker(embedded: LlamaCppBackend) -> None:
    before = embedded.cancelled
    stream = embedded.stream(Q, "smollm2-135m-demo", GenerationOptions(max_tokens=400, temperature=0))
    got = [await stream.__anext__() for _ in range(2)]
    await stream.aclose()
    assert all(not d.done for d in got)
    # The next request is served: the worker left the cancelled generation.
    result = await asyncio.wait_for(embedded.chat(Q, "smollm2-135m-demo", GenerationOptions(max_tokens=3)), 120)
    assert result.completion_tokens >= 1 and embedded.cancelled == before + 1


@pytest.mark.asyncio
async def test_unknown_model_and_missing_gguf(tmp_path: Path, embedded: LlamaCppBackend) -> None:
    with pytest.raises(Exception, match="serves 'smollm2-135m-demo'"):
        await embedded.chat(Q, "other", GenerationOptions(max_tokens=2))
    broken = LlamaCppBackend(EmbeddedConfig(gguf=tmp_path / "none.gguf", data_dir=tmp_path))
    await broken.start()
    health = await broken.health()
    assert health.status == "down" and "SYNAPSE_GGUF" in health.detail
    with pytest.raises(BackendUnavailableError, match="SYNAPSE_GGUF"):
        await broken.chat(Q, "x", GenerationOptions(max_tokens=2))
