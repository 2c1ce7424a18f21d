"""The whole export run on a tiny model: outputs, manifest, reuse, failure handling."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the export tests need the `export` extra")

from export.inputs import ExportInputError
from export.pipeline import ExportFailed, ExportRequest, run_export, sha256_file
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
