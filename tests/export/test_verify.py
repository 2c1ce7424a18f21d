"""Verification catches a wrong export and passes a right one."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the export tests need the `export` extra")

from export.inputs import AdapterInfo, BaseModelInfo, inspect_adapter, inspect_base
from export.merge import write_merged_gguf
from export.verify import VerifyBounds, verify_export

# A random model never ends its turn by itself; the stop mechanism is tested in test_quantize.
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
