"""The adapter as a llama.cpp LoRA GGUF: metadata and names llama.cpp loads, exact matrices, same logits."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the export tests need the `export` extra")

from export.inputs import inspect_adapter, inspect_base
from export.lora_gguf import gguf_alpha, write_lora_gguf
from export.merge import partial_path, write_merged_gguf
from export.verify import check_lora_gguf, verify_export


def test_lora_gguf_has_llama_cpp_metadata_and_exact_matrices(
    tiny_base: Path, tiny_adapter: Path, tmp_path: Path
) -> None:
    import gguf

    base = inspect_base(tiny_base)
    adapter = inspect_adapter(tiny_adapter, base)
    report = write_lora_gguf(base, adapter, tmp_path / "lora.gguf", "tiny")
    reader = gguf.GGUFReader(report.path)
    assert reader.get_field("general.type").contents() == "adapter"  # type: ignore[union-attr]
    assert reader.get_field("general.architecture").contents() == "qwen2"  # type: ignore[union-attr]
    assert reader.get_field("adapter.type").contents() == "lora"  # type: ignore[union-attr]
    assert reader.get_field("adapter.lora.alpha").contents() == pytest.approx(16.0)  # type: ignore[union-attr]
    tensors = {t.name: t for t in reader.tensors}
    assert len(tensors) == 2 * 14 == 2 * report.pairs
    # GGUF lists dimensions innermost first: A is [in, rank], B is [rank, out], as llama.cpp's loader checks.
    assert list(tensors["blk.0.attn_k.weight.lora_a"].shape) == [256, 8]
    assert list(tensors["blk.0.attn_k.weight.lora_b"].shape) == [8, 128]
    assert list(tensors["blk.1.ffn_down.weight.lora_a"].shape) == [512, 8]
    check, problems = check_lora_gguf(report.path, base, adapter)
    assert problems == [] and check.tensor_error == 0.0
    assert not partial_path(report.path).exists()


def test_rslora_alpha_keeps_peft_scale(tiny_base: Path, tiny_adapter: Path, tmp_path: Path) -> None:
    rs = tmp_path / "rslora"
    shutil.copytree(tiny_adapter, rs)
    cfg = json.loads((rs / "adapter_config.json").read_text())
    cfg["use_rslora"] = True
    (rs / "adapter_config.json").write_text(json.dumps(cfg))
    base = inspect_base(tiny_base)
    adapter = inspect_adapter(rs, base)
    # llama.cpp scales by alpha / rank; peft's rsLoRA by lora_alpha / sqrt(rank).
    assert gguf_alpha(adapter) / adapter.rank == pytest.approx(16 / math.sqrt(8))


def test_check_lora_gguf_catches_a_wrong_adapter(tiny_base: Path, tiny_adapter: Path, tmp_path: Path) -> None:
    from tests.support.synthetic_models import build_random_lora

    base = inspect_base(tiny_base)
    other = inspect_adapter(build_random_lora(tiny_base, tmp_path / "other", seed=7), base)
    lora = write_lora_gguf(base, other, tmp_path / "other.gguf").path
    _, problems = check_lora_gguf(lora, base, inspect_adapter(tiny_adapter, base))
    assert any("differ from the adapter" in p for p in problems)


def test_base_plus_lora_logits_match_unmerged_peft(stopping_base: Path, stopping_adapter: Path, tmp_path: Path) -> None:
    base = inspect_base(stopping_base)
    adapter = inspect_adapter(stopping_adapter, base)
    plain = write_merged_gguf(base, None, tmp_path / "base-f32.gguf", "F32").path
    lora = write_lora_gguf(base, adapter, tmp_path / "lora.gguf").path
    report = verify_export("full", base, adapter, [(plain, "F32")], lora=lora)
    assert report.passed, report.problems
    check = report.files[0]
    assert check.file == "base-f32.gguf + lora.gguf"
    assert check.max_abs_logit_error is not None and check.max_abs_logit_error <= 1e-4
    assert check.chat_stopped
    # The same base without the LoRA is far off: llama.cpp really applied it.
    report = verify_export("full", base, adapter, [(plain, "F32")])
    assert not report.passed


def test_interrupted_lora_write_leaves_nothing(
    tiny_base: Path, tiny_adapter: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gguf

    def cut(self: gguf.GGUFWriter, *args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(gguf.GGUFWriter, "write_tensors_to_file", cut)
    base = inspect_base(tiny_base)
    with pytest.raises(KeyboardInterrupt):
        write_lora_gguf(base, inspect_adapter(tiny_adapter, base), tmp_path / "lora.gguf")
    assert list(tmp_path.iterdir()) == []


def test_f16_lora_is_half_the_size_and_matches_unmerged_peft(
    stopping_base: Path, stopping_adapter: Path, tmp_path: Path
) -> None:
    base = inspect_base(stopping_base)
    adapter = inspect_adapter(stopping_adapter, base)
    f32 = write_lora_gguf(base, adapter, tmp_path / "f32.gguf")
    f16 = write_lora_gguf(base, adapter, tmp_path / "f16.gguf", lora_type="F16")
    assert f16.bytes < 0.6 * f32.bytes
    check, problems = check_lora_gguf(f16.path, base, adapter)
    assert problems == [] and check.tensor_error == 0.0  # equal to the half-precision rounding of each value
    plain = write_merged_gguf(base, None, tmp_path / "base-f32.gguf", "F32").path
    # Half-precision matrices: held to the bound of an F16 file, as the export checks its F16 base + this LoRA.
    report = verify_export("full", base, adapter, [(plain, "F16")], lora=f16.path)
    assert report.passed, report.problems
