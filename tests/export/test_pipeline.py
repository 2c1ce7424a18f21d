"""The whole export run on a tiny model: outputs, manifest, reuse, failure handling."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the export tests need the `export` extra")

from export.errors import ExportFailed, ExportInputError
from export.pipeline import ExportRequest, run_export, sha256_file
from export.verify import VerifyBounds

RANDOM_MODEL = VerifyBounds(require_stop=False)


def _request(base: Path, adapter: Path | None, out: Path, **kw: object) -> ExportRequest:
    fields: dict[str, object] = {"bounds": RANDOM_MODEL, **kw}
    return ExportRequest(model_name="tiny-q4km", base=base, adapter=adapter, out=out, **fields)  # type: ignore[arg-type]


def test_export_writes_verified_files_and_manifest(stopping_base: Path, stopping_adapter: Path, tmp_path: Path) -> None:
    phases: list[str] = []
    # Default bounds: the chat through each GGUF must end on its own.
    request = _request(stopping_base, stopping_adapter, tmp_path, bounds=VerifyBounds())
    manifest = run_export(request, lambda p, d, t: phases.append(p))
    assert manifest.status == "ok" and not manifest.reused
    assert {a.path for a in manifest.outputs} == {"tiny-q4km-f16.gguf", "tiny-q4km.gguf"}
    for art in manifest.outputs:
        assert sha256_file(tmp_path / art.path) == art.sha256
    on_disk = json.loads((tmp_path / "manifest.json").read_text())
    assert on_disk["fingerprint"] == manifest.fingerprint
    assert on_disk["inputs"]["adapter/adapter_model.safetensors"] == sha256_file(
        stopping_adapter / "adapter_model.safetensors"
    )
    assert manifest.trainable_params == 65536
    assert {"validate", "merge", "quantize", "verify"} <= set(manifest.timings_s)
    assert [f.kind for f in manifest.verification.files] == ["F16", "Q4_K_M"]
    assert all(f.chat_stopped for f in manifest.verification.files)
    assert manifest.settings["mode"] == "merged"
    assert {"merge", "verify"} <= set(phases)
    assert not list(tmp_path.glob("*.partial"))


def test_rerun_reuses_unless_forced(tiny_base: Path, tiny_adapter: Path, tmp_path: Path) -> None:
    first = run_export(_request(tiny_base, tiny_adapter, tmp_path, verify="quick"))
    again = run_export(_request(tiny_base, tiny_adapter, tmp_path, verify="quick"))
    assert again.reused and again.fingerprint == first.fingerprint
    forced = run_export(_request(tiny_base, tiny_adapter, tmp_path, verify="quick", force=True))
    assert not forced.reused
    other = run_export(_request(tiny_base, tiny_adapter, tmp_path, verify="none", quant="Q8_0"))
    assert not other.reused and other.fingerprint != first.fingerprint


def test_failed_verification_keeps_files_under_failed_names(
    tiny_base: Path, tiny_adapter: Path, tmp_path: Path
) -> None:
    req = _request(tiny_base, tiny_adapter, tmp_path, bounds=VerifyBounds(require_stop=True, chat_max_tokens=4))
    with pytest.raises(ExportFailed, match="verification failed") as info:
        run_export(req)
    assert info.value.exit_code != 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["manifest.json.failed", "tiny-q4km-f16.gguf.failed", "tiny-q4km.gguf.failed"]


def test_bad_input_fails_before_any_output(tiny_base: Path, tmp_path: Path) -> None:
    with pytest.raises(ExportInputError):
        run_export(_request(tiny_base, tmp_path / "missing-adapter", tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_adapter_mode_writes_base_and_lora_and_reuses_the_base(
    stopping_base: Path, stopping_adapter: Path, tmp_path: Path
) -> None:
    from tests.support.synthetic_models import build_random_lora

    store = tmp_path / "store"
    first = run_export(
        _request(
            stopping_base, stopping_adapter, tmp_path / "a", mode="adapter", base_store=store, bounds=VerifyBounds()
        )
    )
    assert first.status == "ok" and first.settings["mode"] == "adapter" and first.base_reused is False
    assert {a.path for a in first.outputs} == {"base-F16.gguf", "base-Q4_K_M.gguf", "tiny-q4km-lora.gguf"}
    assert {"base_merge", "base_quantize", "lora"} <= set(first.timings_s)
    checks = first.verification.files
    assert [c.kind for c in checks] == ["F16", "Q4_K_M"]
    assert all(c.file.endswith(" + tiny-q4km-lora.gguf") and c.chat_stopped for c in checks)
    assert checks[0].max_abs_logit_error is not None and checks[0].max_abs_logit_error < 0.05
    # A second adapter on the same base: the stored base GGUFs are reused, not written again.
    other = build_random_lora(stopping_base, tmp_path / "other-adapter", seed=5)
    second = run_export(
        _request(stopping_base, other, tmp_path / "b", mode="adapter", base_store=store, verify="quick")
    )
    assert second.base_reused is True and second.base_gguf == first.base_gguf
    assert "base_merge" not in second.timings_s and "base_quantize" not in second.timings_s
    assert (tmp_path / "b" / "base-Q4_K_M.gguf").samefile(tmp_path / "a" / "base-Q4_K_M.gguf")
    assert [c.kind for c in second.verification.files] == ["LoRA", "F16"]
    assert second.verification.passed
    assert not list(tmp_path.rglob("*.partial"))


def test_adapter_mode_rebuilds_the_base_when_its_weights_change(
    tiny_base: Path, tiny_adapter: Path, tmp_path: Path
) -> None:
    import shutil

    base = tmp_path / "base"
    shutil.copytree(tiny_base, base)
    store = tmp_path / "store"
    first = run_export(_request(base, tiny_adapter, tmp_path / "o1", mode="adapter", base_store=store, verify="none"))
    weights = base / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0x01  # the same size, other bytes
    weights.write_bytes(bytes(data))
    second = run_export(_request(base, tiny_adapter, tmp_path / "o2", mode="adapter", base_store=store, verify="none"))
    assert second.base_reused is False and second.base_gguf != first.base_gguf


def test_adapter_mode_failure_keeps_evidence_and_drops_the_stored_base(
    tiny_base: Path, tiny_adapter: Path, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    req = _request(
        tiny_base,
        tiny_adapter,
        tmp_path / "o",
        mode="adapter",
        base_store=store,
        bounds=VerifyBounds(require_stop=True, chat_max_tokens=4),
    )
    with pytest.raises(ExportFailed, match="did not end"):
        run_export(req)
    names = sorted(p.name for p in (tmp_path / "o").iterdir())
    assert names == [
        "base-F16.gguf.failed",
        "base-Q4_K_M.gguf.failed",
        "manifest.json.failed",
        "tiny-q4km-lora.gguf.failed",
    ]
    assert not list(store.glob("*/*.gguf"))


def test_interrupted_adapter_export_leaves_no_file_under_a_final_name(
    tiny_base: Path, tiny_adapter: Path, tmp_path: Path
) -> None:
    def stop(phase: str, done: int, total: int) -> None:
        if phase == "base" and done > total // 2:
            raise KeyboardInterrupt

    store = tmp_path / "store"
    with pytest.raises(KeyboardInterrupt):
        run_export(_request(tiny_base, tiny_adapter, tmp_path / "o", mode="adapter", base_store=store), stop)
    assert not list(tmp_path.rglob("*.gguf")) and not list(tmp_path.rglob("*.partial"))
    assert not (tmp_path / "o" / "manifest.json").exists()


def test_adapter_mode_needs_an_adapter(tiny_base: Path, tmp_path: Path) -> None:
    with pytest.raises(ExportInputError, match="needs an adapter"):
        run_export(_request(tiny_base, None, tmp_path / "o", mode="adapter"))
    assert not (tmp_path / "o").exists()
