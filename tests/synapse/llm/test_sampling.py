"""The model's own sampling defaults: the export's record, the demo's anti-loop defaults, the request's values."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from synapse.llm import ChatMessage, GenerationOptions
from synapse.llm.llamacpp import LlamaCppBackend
from synapse.llm.sampling import DEMO, FALLBACK, Sampling, export_sampling, model_sampling, request_sampling
from tests.synapse.llm.conftest import demo_backend

# The README's Russian example.
CRANE = [ChatMessage(role="user", content="Стрела крана должна быть прочнее, но не тяжелее. Что делать?")]


def most_repeated_4gram(text: str) -> int:
    words = text.split()
    counts = Counter(tuple(words[i : i + 4]) for i in range(len(words) - 3))
    return max(counts.values(), default=0)


def test_export_manifest_next_to_the_gguf_gives_the_defaults(tmp_path: Path) -> None:
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    assert export_sampling(gguf) is None and model_sampling(gguf, demo=False) == FALLBACK
    record = {"model_name": "m", "sampling": {"temperature": 0.7, "top_k": 20, "repeat_penalty": 1.05}}
    (tmp_path / "manifest.json").write_text(json.dumps(record), encoding="utf-8")
    got = model_sampling(gguf, demo=False)
    assert got == Sampling(temperature=0.7, top_p=FALLBACK.top_p, top_k=20, repeat_penalty=1.05)


def test_a_damaged_manifest_is_ignored(tmp_path: Path) -> None:
    gguf = tmp_path / "m.gguf"
    (tmp_path / "manifest.json").write_text('{"sampling": {"top_p": 7}}', encoding="utf-8")
    assert export_sampling(gguf) is None
    (tmp_path / "manifest.json").write_text("{not json", encoding="utf-8")
    assert model_sampling(gguf, demo=False) == FALLBACK


def test_the_request_wins_where_it_sends_a_value(tmp_path: Path) -> None:
    demo = model_sampling(tmp_path / "demo.gguf", demo=True)
    assert demo == DEMO and demo.repeat_penalty is not None and 1.1 <= demo.repeat_penalty <= 1.3
    got = request_sampling(GenerationOptions(temperature=0, top_k=5), demo)
    assert got == Sampling(temperature=0, top_p=DEMO.top_p, top_k=5, repeat_penalty=DEMO.repeat_penalty)
    assert request_sampling(GenerationOptions(), demo) == demo


@pytest.fixture(scope="module")
def embedded() -> Iterator[LlamaCppBackend]:
    with demo_backend(n_ctx=1024) as backend:
        yield backend


@pytest.mark.slow
@pytest.mark.asyncio
async def test_the_demo_model_does_not_loop_on_the_readme_example(embedded: LlamaCppBackend) -> None:
    greedy = GenerationOptions(max_tokens=128, temperature=0)
    answer = (await embedded.chat(CRANE, "smollm2-135m-demo", greedy)).content
    assert len(answer.split()) >= 8, answer
    assert most_repeated_4gram(answer) <= 3, answer
    # Without the demo's repetition penalty the same request loops (the bug this guards against).
    looping = greedy.model_copy(update={"repeat_penalty": 1.0})
    assert most_repeated_4gram((await embedded.chat(CRANE, "smollm2-135m-demo", looping)).content) > 3
