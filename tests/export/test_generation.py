"""The base's sampling defaults: read from generation_config.json, written as Modelfile PARAMETERs."""

from __future__ import annotations

import json
from pathlib import Path

from export.generation import base_sampling
from export.modelfile import render_modelfile
from export.profiles import ExportProfile, builtin_profiles

# Qwen2.5-1.5B-Instruct's generation_config.json, as Hugging Face ships it.
QWEN = {
    "bos_token_id": 151643,
    "do_sample": True,
    "eos_token_id": [151645, 151643],
    "pad_token_id": 151643,
    "repetition_penalty": 1.1,
    "temperature": 0.7,
    "top_p": 0.8,
    "top_k": 20,
    "transformers_version": "4.37.0",
}


QWEN_SAMPLING: dict[str, float] = {"temperature": 0.7, "top_p": 0.8, "top_k": 20, "repeat_penalty": 1.1}


def test_reads_the_sampling_under_ollama_names(tmp_path: Path) -> None:
    assert base_sampling(tmp_path) == {}
    (tmp_path / "generation_config.json").write_text(json.dumps(QWEN), encoding="utf-8")
    assert base_sampling(tmp_path) == QWEN_SAMPLING


def test_odd_values_are_left_out(tmp_path: Path) -> None:
    odd = {"temperature": True, "top_p": 7, "top_k": "20", "repetition_penalty": 1.2}
    (tmp_path / "generation_config.json").write_text(json.dumps(odd), encoding="utf-8")
    assert base_sampling(tmp_path) == {"repeat_penalty": 1.2}
    (tmp_path / "generation_config.json").write_text("{broken", encoding="utf-8")
    assert base_sampling(tmp_path) == {}


def test_the_modelfile_carries_the_base_sampling() -> None:
    td = builtin_profiles()["td010v2"].model_copy(update={"base_sampling": QWEN_SAMPLING})
    lines = render_modelfile(td, "./m.gguf").splitlines()
    for line in (
        "PARAMETER temperature 0.7",
        "PARAMETER top_p 0.8",
        "PARAMETER top_k 20",
        "PARAMETER repeat_penalty 1.1",
    ):
        assert line in lines
    assert td.ollama_parameters()["top_k"] == 20


def test_a_temperature_the_profile_sets_wins() -> None:
    own = ExportProfile(name="x", ollama_name="x", temperature=0.2, base_sampling={"temperature": 0.7, "top_k": 20})
    assert own.ollama_parameters()["temperature"] == 0.2 and own.ollama_parameters()["top_k"] == 20
    assert "PARAMETER temperature 0.2" in render_modelfile(own, "./m.gguf").splitlines()


def test_the_manifest_records_the_base_sampling(tiny_base: Path, tiny_adapter: Path, tmp_path: Path) -> None:
    import shutil

    from export.pipeline import ExportRequest, run_export

    base = Path(shutil.copytree(tiny_base, tmp_path / "base"))
    (base / "generation_config.json").write_text(json.dumps(QWEN), encoding="utf-8")
    request = ExportRequest(model_name="tiny", base=base, adapter=tiny_adapter, out=tmp_path / "o", verify="none")
    assert run_export(request).sampling == QWEN_SAMPLING
    on_disk = json.loads((tmp_path / "o" / "manifest.json").read_text(encoding="utf-8"))
    assert on_disk["sampling"] == QWEN_SAMPLING
