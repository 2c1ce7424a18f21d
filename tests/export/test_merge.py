"""The streaming LoRA merge into GGUF: exactness against peft and llama.cpp, and clean failure."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the export tests need the `export` extra")

from export.errors import ExportInputError  # noqa: E402
from export.inputs import inspect_adapter, inspect_base  # noqa: E402
from export.merge import partial_path, write_merged_gguf  # noqa: E402

PROBE = [11, 250, 37, 600, 5, 129, 42, 300]


@pytest.fixture(scope="module")
def merged_f32(tiny_base: Path, tiny_adapter: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = inspect_base(tiny_base)
    out = tmp_path_factory.mktemp("gguf") / "tiny-f32.gguf"
    report = write_merged_gguf(base, inspect_adapter(tiny_adapter, base), out, "F32", "tiny")
    assert report.merged_tensors == 14 and out.exists() and not partial_path(out).exists()
    return out


def _peft_model(base: Path, adapter: Path):  # type: ignore[no-untyped-def]
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    return PeftModel.from_pretrained(model, adapter)


def test_merged_tensors_equal_peft_merge_and_unload(merged_f32: Path, tiny_base: Path, tiny_adapter: Path) -> None:
    from gguf import GGUFReader

    merged = _peft_model(tiny_base, tiny_adapter).merge_and_unload().state_dict()
    tensors = {t.name: t for t in GGUFReader(merged_f32).tensors}
    pairs = {
        "blk.0.attn_q.weight": "model.layers.0.self_attn.q_proj.weight",
        "blk.1.ffn_down.weight": "model.layers.1.mlp.down_proj.weight",
        "blk.1.attn_k.weight": "model.layers.1.self_attn.k_proj.weight",
        "blk.0.attn_q.bias": "model.layers.0.self_attn.q_proj.bias",
        "token_embd.weight": "model.embed_tokens.weight",
    }
    for gguf_name, hf_name in pairs.items():
        ours = np.asarray(tensors[gguf_name].data).reshape(merged[hf_name].shape)
        assert np.abs(ours - merged[hf_name].numpy()).max() <= 1e-5, gguf_name
    assert "output.weight" not in tensors  # tied embeddings: llama.cpp reuses token_embd


def test_f32_gguf_logits_match_unmerged_peft(merged_f32: Path, tiny_base: Path, tiny_adapter: Path) -> None:
    from llama_cpp import Llama

    model = _peft_model(tiny_base, tiny_adapter)
    with torch.no_grad():
        ref = model(torch.tensor([PROBE])).logits[0].numpy()
        with model.disable_adapter():
            plain = model(torch.tensor([PROBE])).logits[0].numpy()
    llm = Llama(model_path=str(merged_f32), n_ctx=64, logits_all=True, verbose=False, type_k=0, type_v=0)
    llm.eval(PROBE)
    got = np.asarray(llm.scores[: len(PROBE)])
    assert np.abs(got - ref).max() <= 1e-4
    # The adapter really moves the logits, far beyond the tolerance.
    assert np.abs(plain - ref).max() > 100 * 1e-4


def test_trainable_parameter_count(tiny_base: Path, tiny_adapter: Path) -> None:
    base = inspect_base(tiny_base)
    adapter = inspect_adapter(tiny_adapter, base)
    head_dim = base.hidden // base.heads
    kv = base.kv_heads * head_dim
    per_layer = 8 * (2 * (base.hidden + base.hidden) + 2 * (base.hidden + kv) + 3 * (base.hidden + base.intermediate))
    assert adapter.trainable_params == per_layer * base.layers
    assert adapter.rank == 8 and adapter.alpha == 16 and adapter.pairs


def test_interrupted_merge_leaves_nothing(tiny_base: Path, tmp_path: Path) -> None:
    base = inspect_base(tiny_base)
    out = tmp_path / "cut.gguf"

    def stop(done: int, total: int) -> None:
        if done > total // 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_merged_gguf(base, None, out, "F16", progress=stop)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not hasattr(os, "posix_fallocate"), reason="space is reserved with posix_fallocate")
def test_a_full_disk_is_a_clean_error_that_leaves_nothing(
    tiny_base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(fd: int, offset: int, length: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "posix_fallocate", full)
    with pytest.raises(ExportInputError, match="not enough free disk") as info:
        write_merged_gguf(inspect_base(tiny_base), None, tmp_path / "full.gguf", "F16")
    assert "--out" in info.value.hint
    assert list(tmp_path.iterdir()) == []
