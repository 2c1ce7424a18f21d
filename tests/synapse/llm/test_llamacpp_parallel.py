"""The embedded backend decoding several requests at once on the demo GGUF: answers as when run alone,
JSON and free text side by side, the slots in health and /api/ps, memory bounded over many requests."""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import Iterator

import psutil
import pytest

from synapse.llm import ChatMessage, GenerationOptions, ResponseFormat
from synapse.llm.llamacpp import LlamaCppBackend
from tests.synapse.llm.conftest import DEMO_MODEL, demo_backend

pytestmark = pytest.mark.slow
QUESTIONS = (
    "Name three metals, one per line.",
    "What is TRIZ?",
    "Write a haiku about rain.",
    "Explain what a contradiction is in engineering.",
)
GREEDY = GenerationOptions(max_tokens=24, temperature=0)


@pytest.fixture(scope="module")
def parallel() -> Iterator[LlamaCppBackend]:
    with demo_backend(n_ctx=1024, parallel=4) as backend:
        yield backend


def _ask(question: str) -> list[ChatMessage]:
    return [ChatMessage(role="user", content=question)]


@pytest.mark.asyncio
async def test_four_requests_at_once_answer_as_each_alone(parallel: LlamaCppBackend) -> None:
    alone = [(await parallel.chat(_ask(q), DEMO_MODEL, GREEDY)).content for q in QUESTIONS]
    together = await asyncio.gather(*(parallel.chat(_ask(q), DEMO_MODEL, GREEDY) for q in QUESTIONS))
    assert [r.content for r in together] == alone
    assert all(r.completion_tokens >= 1 for r in together)


@pytest.mark.asyncio
async def test_a_json_answer_and_free_text_decode_side_by_side(parallel: LlamaCppBackend) -> None:
    schema = {
        "type": "object",
        "properties": {"metal": {"type": "string"}, "hard": {"type": "boolean"}},
        "required": ["metal", "hard"],
    }
    fmt = ResponseFormat(type="json_schema", json_schema=schema, name="metal")
    as_json = GenerationOptions(max_tokens=64, temperature=0, response_format=fmt)
    free, structured = await asyncio.gather(
        parallel.chat(_ask(QUESTIONS[0]), DEMO_MODEL, GREEDY),
        parallel.chat(_ask("Name one metal and say whether it is hard."), DEMO_MODEL, as_json),
    )
    answer = json.loads(structured.content)
    assert set(answer) == {"metal", "hard"} and isinstance(answer["hard"], bool)
    assert free.content == (await parallel.chat(_ask(QUESTIONS[0]), DEMO_MODEL, GREEDY)).content
    # The count is of the tokens decoded, not of the answer's text tokenized again.
    assert structured.completion_tokens >= parallel.count_tokens(structured.content) - 2


@pytest.mark.asyncio
async def test_health_and_loaded_models_show_the_slots(parallel: LlamaCppBackend) -> None:
    long = GenerationOptions(max_tokens=400, temperature=0)
    streams = [parallel.stream(_ask(q), DEMO_MODEL, long) for q in QUESTIONS[:2]]
    for stream in streams:
        await stream.__anext__()
    health = await parallel.health()
    [loaded] = await parallel.loaded_models()
    assert health.slots == 4 and health.slots_in_use == 2
    assert loaded.slots == 4 and loaded.slots_in_use == 2
    for stream in streams:
        await stream.aclose()
    await parallel.chat(_ask(QUESTIONS[2]), DEMO_MODEL, GenerationOptions(max_tokens=2))
    assert (await parallel.health()).slots_in_use == 0


@pytest.mark.asyncio
async def test_memory_stays_bounded_over_two_hundred_requests(parallel: LlamaCppBackend) -> None:
    short = GenerationOptions(max_tokens=4, temperature=0.7, seed=3)
    process = psutil.Process()

    async def round_of(n: int) -> None:
        for i in range(n):  # half one by one, half eight at a time
            await parallel.chat(_ask(QUESTIONS[i % 4]), DEMO_MODEL, short)
        for i in range(0, n, 8):
            await asyncio.gather(*(parallel.chat(_ask(QUESTIONS[j % 4]), DEMO_MODEL, short) for j in range(i, i + 8)))

    await round_of(16)  # warm: allocator pools, template caches
    gc.collect()
    before = process.memory_info().rss
    await round_of(100)
    gc.collect()
    grown_mb = (process.memory_info().rss - before) / 2**20
    assert grown_mb < 24, f"resident memory grew {grown_mb:.1f} MB over 200 requests"
    assert (await parallel.health()).slots_in_use == 0
