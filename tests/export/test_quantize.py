"""Quantization through llama.cpp, and that the result loads and ends a chat on its stop token."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the export tests need the `export` extra")

from export.errors import QuantizeError
from export.inputs import inspect_adapter, inspect_base
from export.merge import write_merged_gguf
from export.quantize import quantize_gguf


@pytest.fixture(scope="module")
def f16(tiny_base: Path, tiny_adapter: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = inspect_base(tiny_base)
    out = tmp_path_factory.mktemp("q") / "tiny-f16.gguf"
    return write_merged_gguf(base, inspect_adapter(tiny_adapter, base), out, "F16", "tiny").path


def test_q4_k_m_loads_chats_and_stops(f16: Path, tmp_path: Path) -> None:
    from gguf import GGMLQuantizationType, GGUFReader
    from llama_cpp import Llama

    report = quantize_gguf(f16, tmp_path / "tiny-q4km.gguf", "Q4_K_M")
    assert report.bytes < f16.stat().st_size / 2
    kinds = {t.tensor_type for t in GGUFReader(report.path).tensors}
    assert GGMLQuantizationType.Q4_K in kinds
    llm = Llama(model_path=str(report.path), n_ctx=128, verbose=False)
    end = llm.tokenize(b"<|im_end|>", add_bos=False, special=True)
    assert len(end) == 1
    # Force the end-of-turn token: llama.cpp must treat it as the end of generation, not as text.
    reply = llm.create_chat_completion(
        messages=[{"role": "user", "content": "Hello"}], max_tokens=20, logit_bias={end[0]: 100.0}
    )
    assert reply["choices"][0]["finish_reason"] == "stop"
    assert reply["choices"][0]["message"]["content"] == ""
    assert "<|im_start|>" in str(llm.metadata.get("tokenizer.chat_template"))


def test_unknown_quant_is_refused(f16: Path, tmp_path: Path) -> None:
    with pytest.raises(QuantizeError, match="unknown quantization"):
        quantize_gguf(f16, tmp_path / "x.gguf", "Q3_K_XS")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_q4_k_m_of_a_chat_ending_model_stops_by_itself(
    stopping_base: Path, stopping_adapter: Path, tmp_path: Path
) -> None:
    from llama_cpp import Llama

    base = inspect_base(stopping_base)
    f16 = write_merged_gguf(base, inspect_adapter(stopping_adapter, base), tmp_path / "s16.gguf", "F16").path
    q4 = quantize_gguf(f16, tmp_path / "s-q4km.gguf", "Q4_K_M").path
    llm = Llama(model_path=str(q4), n_ctx=128, verbose=False)
    reply = llm.create_chat_completion(messages=[{"role": "user", "content": "Hello"}], max_tokens=32, temperature=0)
    choice = reply["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert 0 < reply["usage"]["completion_tokens"] < 8
    assert "<|im_end|>" not in str(choice["message"]["content"])
