"""Many LoRAs on one base, in one context or a context each: each sequence decodes with its own adapter (or
none), and its logits and greedy tokens equal those of the matching merged GGUF, also while other adapters'
sequences are in flight."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="these tests build their LoRAs with the `export` extra")

from synapse.errors import SynapseError
from synapse.llm.batch import BatchEngine, NativeModel, Placement, SequenceRequest, Shape
from tests.support.adapter_files import AdapterFiles, build_adapter_files

pytestmark = pytest.mark.slow
#: The export's verification bound for F32 files (tests/export/test_lora_gguf.py), the tightest it sets.
TOLERANCE = 1e-3
PROMPT = "<|im_start|>user\nhow to make a beam stronger<|im_end|>\n<|im_start|>assistant\n"


@pytest.fixture(scope="module")
def files(tiny_base: Path, tmp_path_factory: pytest.TempPathFactory) -> AdapterFiles:
    return build_adapter_files(tiny_base, tmp_path_factory.mktemp("adapters"))


@pytest.fixture(scope="module")
def shared(files: AdapterFiles) -> Iterator[NativeModel]:
    native = NativeModel(files.base, Shape(n_seq=3, n_ctx_seq=256), Placement(loras=tuple(files.loras.items())))
    yield native
    native.close()


def _last_logits(native: NativeModel, prompt: list[int]) -> list[float]:
    native.free_sequence(0)
    native.decode([(t, i, 0, i == len(prompt) - 1) for i, t in enumerate(prompt)])
    return native.logits(len(prompt) - 1)


def _max_diff(a: list[float], b: list[float]) -> float:
    return max(abs(x - y) for x, y in zip(a, b, strict=True))


def test_each_adapter_gives_its_merged_models_logits(shared: NativeModel, files: AdapterFiles) -> None:
    prompt = shared.tokenize(PROMPT)
    seen = {}
    for name in (*files.loras, None):
        shared.use_adapter(name)
        seen[name] = _last_logits(shared, prompt)
        reference = NativeModel(files.merged[name] if name else files.base, Shape(n_seq=1, n_ctx_seq=256))
        try:
            assert _max_diff(seen[name], _last_logits(reference, prompt)) <= TOLERANCE, name
        finally:
            reference.close()
    # The adapters really change the answer: each differs from the bare base and from the other.
    assert _max_diff(seen["sport"], seen[None]) > 0.1
    assert _max_diff(seen["sport"], seen["physics"]) > 0.1
    assert shared.adapters == ("sport", "physics")


def _greedy(native: NativeModel, adapters: list[str | None], n_tokens: int = 12) -> list[list[int]]:
    engine = BatchEngine(native)

    async def run() -> list[list[int]]:
        prompt = tuple(native.tokenize(PROMPT))
        streams = [engine.submit(SequenceRequest(prompt, max_tokens=n_tokens, adapter=a)) for a in adapters]
        await asyncio.gather(*(s.text() for s in streams))
        assert all(s.finish_reason in ("stop", "length") for s in streams)
        return [s.tokens for s in streams]

    try:
        return asyncio.run(run())
    finally:
        engine._inbox.put(None)  # stop the thread but keep the shared model for the other tests
        engine._thread.join(30)


def _assert_as_merged(files: AdapterFiles, together: list[list[int]]) -> None:
    """The greedy tokens of "sport", "physics" and the bare base are those of each merged model alone."""
    for name, tokens in zip(("sport", "physics", None), together, strict=True):
        alone = NativeModel(files.merged[name] if name else files.base, Shape(n_seq=1, n_ctx_seq=256))
        try:
            assert tokens == _greedy(alone, [None])[0], name
        finally:
            alone.close()


def test_adapters_and_bare_base_in_flight_at_once_match_merged_models(shared: NativeModel, files: AdapterFiles) -> None:
    together = _greedy(shared, ["sport", "physics", None])
    _assert_as_merged(files, together)
    assert together[0] != together[1]


def test_cached_cells_are_not_reused_across_adapters(shared: NativeModel) -> None:
    engine = BatchEngine(shared)

    async def run() -> tuple[int, int, str]:
        prompt = tuple(shared.tokenize(PROMPT))
        first = engine.submit(SequenceRequest(prompt, max_tokens=2, adapter="sport"))
        await first.text()
        other = engine.submit(SequenceRequest(prompt, max_tokens=2, adapter="physics"))
        await other.text()
        same = engine.submit(SequenceRequest(prompt, max_tokens=2, adapter="physics"))
        await same.text()
        unknown = engine.submit(SequenceRequest(prompt, max_tokens=2, adapter="chemistry"))
        with pytest.raises(SynapseError, match="no LoRA 'chemistry' is loaded"):
            await unknown.text()
        return other.reused, same.reused, str(unknown.finish_reason)

    try:
        other_reused, same_reused, unknown_finish = asyncio.run(run())
    finally:
        engine._inbox.put(None)
        engine._thread.join(30)
    assert other_reused == 0 and same_reused > 0
    assert unknown_finish == "error"


@pytest.mark.parametrize("contexts", [3, 2])
def test_a_context_per_adapter_answers_as_the_merged_models(files: AdapterFiles, contexts: int) -> None:
    """Three adapters at once: with a lane each they never switch after the first apply; with two lanes one is
    shared and switches between its groups every step. Both answer exactly as the merged models do."""
    loras = Placement(loras=tuple(files.loras.items()))
    native = NativeModel(files.base, Shape(n_seq=3, n_ctx_seq=256, contexts=contexts), loras)
    try:
        together = _greedy(native, ["sport", "physics", None])
        lanes, switches = native.n_lanes, native.switches
    finally:
        native.close()
    _assert_as_merged(files, together)
    assert lanes == contexts
    if contexts == 3:
        assert switches == 2  # "sport" and "physics" applied once each; the third lane stays bare
    else:
        assert switches > 4  # the shared lane switches back and forth as the tokens are decoded


def test_a_prefix_is_not_copied_across_contexts(files: AdapterFiles) -> None:
    native = NativeModel(files.base, Shape(n_seq=2, n_ctx_seq=256, contexts=2))
    try:
        native.add_lane()
        with pytest.raises(SynapseError, match="only within one context"):
            native.copy_prefix(0, 2, 4)
        with pytest.raises(SynapseError, match="2 contexts are made already"):
            native.add_lane()
    finally:
        native.close()


def test_requests_that_alternate_adapters_keep_each_in_its_context(files: AdapterFiles) -> None:
    loras = Placement(loras=tuple(files.loras.items()))
    native = NativeModel(files.base, Shape(n_seq=2, n_ctx_seq=256, contexts=2), loras)
    engine = BatchEngine(native)

    async def one_by_one() -> list[list[int]]:
        prompt = tuple(native.tokenize(PROMPT))
        answers = []
        for name in ("sport", "physics", "sport", "physics"):
            stream = engine.submit(SequenceRequest(prompt, max_tokens=3, adapter=name))
            await stream.text()
            answers.append(stream.tokens)
        return answers

    try:
        answers = asyncio.run(one_by_one())
        lanes, switches = native.n_lanes, native.switches
    finally:
        engine.close()
    assert answers[0] == answers[2] and answers[1] == answers[3] and answers[0] != answers[1]
    assert (lanes, switches) == (2, 2)  # each LoRA applied once, to its own context
