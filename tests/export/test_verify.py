"""Verification catches a wrong export and passes a right one."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the export tests need the `export` extra")

from export.inputs import AdapterInfo, BaseModelInfo, inspect_adapter, inspect_base
from export.merge import write_merged_gguf
from export.verify import VerifyBounds, verify_export

# A purely random model never ends its turn by itself; the chat-ending model below does.
RANDOM_MODEL = VerifyBounds(require_stop=False)


@pytest.fixture(scope="module")
def infos(tiny_base: Path, tiny_adapter: Path) -> tuple[BaseModelInfo, AdapterInfo]:
    base = inspect_base(tiny_base)
    return base, inspect_adapter(tiny_adapter, base)


def test_full_verification_passes_a_right_export(infos: tuple[BaseModelInfo, AdapterInfo], tmp_path: Path) -> None:
    base, adapter = infos
    f32 = write_merged_gguf(base, adapter, tmp_path / "m32.gguf", "F32").path
    f16 = write_merged_gguf(base, adapter, tmp_path / "m16.gguf", "F16").path
    report = verify_export("full", base, adapter, [(f32, "F32"), (f16, "F16")], RANDOM_MODEL)
    assert report.passed, report.problems
    by_kind = {f.kind: f for f in report.files}
    assert by_kind["F32"].max_abs_logit_error is not None and by_kind["F32"].max_abs_logit_error < 1e-4
    assert by_kind["F16"].max_abs_logit_error is not None and by_kind["F16"].max_abs_logit_error < 0.05
    assert all(f.tokenizer_agrees for f in report.files)
    assert report.probes == 3 and report.seconds > 0 and report.peak_rss_mb > 0


def test_full_verification_fails_an_export_without_the_adapter(
    infos: tuple[BaseModelInfo, AdapterInfo], tmp_path: Path
) -> None:
    base, adapter = infos
    unmerged = write_merged_gguf(base, None, tmp_path / "base-only.gguf", "F32").path
    report = verify_export("full", base, adapter, [(unmerged, "F32")], RANDOM_MODEL)
    assert not report.passed
    assert "max abs logit error" in report.problems[0]


def test_quick_verification_compares_merged_tensors(infos: tuple[BaseModelInfo, AdapterInfo], tmp_path: Path) -> None:
    base, adapter = infos
    good = write_merged_gguf(base, adapter, tmp_path / "good.gguf", "F32").path
    report = verify_export("quick", base, adapter, [(good, "F32")])
    assert report.passed and report.files[0].tensor_error == 0.0
    bad = write_merged_gguf(base, None, tmp_path / "bad.gguf", "F32").path
    report = verify_export("quick", base, adapter, [(bad, "F32")])
    assert not report.passed and "W + scale*B*A" in report.problems[0]


def test_chat_must_stop_when_required(infos: tuple[BaseModelInfo, AdapterInfo], tmp_path: Path) -> None:
    base, adapter = infos
    f16 = write_merged_gguf(base, adapter, tmp_path / "m16.gguf", "F16").path
    report = verify_export("full", base, adapter, [(f16, "F16")], VerifyBounds(chat_max_tokens=8))
    assert any("did not end" in p for p in report.problems)


def test_full_verification_with_a_chat_that_must_end(
    stopping_base: Path, stopping_adapter: Path, tmp_path: Path
) -> None:
    from export.quantize import quantize_gguf

    base = inspect_base(stopping_base)
    adapter = inspect_adapter(stopping_adapter, base)
    assert not base.tied_embeddings
    f32 = write_merged_gguf(base, adapter, tmp_path / "s32.gguf", "F32").path
    f16 = write_merged_gguf(base, adapter, tmp_path / "s16.gguf", "F16").path
    q4 = quantize_gguf(f16, tmp_path / "s-q4km.gguf", "Q4_K_M").path
    report = verify_export("full", base, adapter, [(f32, "F32"), (f16, "F16"), (q4, "Q4_K_M")])
    assert report.passed, report.problems
    for check in report.files:
        assert check.chat_stopped and check.chat_tokens is not None and 0 < check.chat_tokens < 8, check
    by_kind = {f.kind: f for f in report.files}
    assert by_kind["F32"].max_abs_logit_error is not None and by_kind["F32"].max_abs_logit_error < 1e-4
    # Without the adapter the logits move well past the bound: the model is still random where it counts.
    unmerged = write_merged_gguf(base, None, tmp_path / "plain.gguf", "F32").path
    report = verify_export("full", base, adapter, [(unmerged, "F32")])
    assert any("max abs logit error" in p for p in report.problems)
