"""`synapse export` through the real typer app, on a tiny random model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from synapse.cli import app

pytest.importorskip("torch", reason="the export tests need the `export` extra")

runner = CliRunner()


@pytest.fixture(autouse=True)
def repo_modelfiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep the tests from writing into the repository's modelfiles/ folder."""
    import export.service

    target = tmp_path / "modelfiles"
    target.mkdir()
    monkeypatch.setattr(export.service, "REPO_MODELFILES", target)
    return target


def _args(base: Path, adapter: Path, out: Path, *extra: str) -> list[str]:
    return ["export", "td010v2", "--base", str(base), "--adapter", str(adapter), "--out", str(out), *extra]


def test_export_no_register_json(tiny_base: Path, tiny_adapter: Path, tmp_path: Path, repo_modelfiles: Path) -> None:
    res = runner.invoke(
        app, _args(tiny_base, tiny_adapter, tmp_path / "o", "--no-register", "--verify", "quick", "--json")
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["manifest"]["status"] == "ok"
    assert data["manifest"]["model_name"] == "triz-td010v2-q4km"
    assert (tmp_path / "o" / "triz-td010v2-q4km.gguf").is_file()
    text = (repo_modelfiles / "triz-td010v2-q4km.Modelfile").read_text()
    assert "\nFROM ./triz-td010v2-q4km.gguf\n" in text and 'PARAMETER stop "<|im_end|>"' in text


def test_export_registers_with_ollama(tiny_base: Path, tiny_adapter: Path, tmp_path: Path) -> None:
    from tests.support.fake_ollama import FakeOllama

    with FakeOllama() as server:
        res = runner.invoke(
            app, _args(tiny_base, tiny_adapter, tmp_path / "o", "--verify", "none", "--ollama-host", server.url)
        )
        assert res.exit_code == 0, res.output
        assert server.creates and server.creates[0]["model"] == "triz-td010v2-q4km"
        assert len(server.blobs) == 1


def test_adapter_mode_writes_base_lora_and_registers_both(
    tiny_base: Path, tiny_adapter: Path, tmp_path: Path, repo_modelfiles: Path
) -> None:
    from export.pipeline import sha256_file
    from tests.support.fake_ollama import FakeOllama

    out = tmp_path / "o"
    with FakeOllama() as server:
        res = runner.invoke(
            app,
            _args(tiny_base, tiny_adapter, out, "--mode", "adapter", "--verify", "quick", "--ollama-host", server.url),
        )
        assert res.exit_code == 0, res.output
        assert "base GGUF" in res.stdout and "written to" in res.stdout
        create = server.creates[0]
        assert create["files"] == {"base-Q4_K_M.gguf": f"sha256:{sha256_file(out / 'base-Q4_K_M.gguf')}"}
        assert create["adapters"] == {
            "triz-td010v2-q4km-lora.gguf": f"sha256:{sha256_file(out / 'triz-td010v2-q4km-lora.gguf')}"
        }
        assert len(server.blobs) == 2
    text = (repo_modelfiles / "triz-td010v2-q4km.Modelfile").read_text()
    assert "\nFROM ./base-Q4_K_M.gguf\nADAPTER ./triz-td010v2-q4km-lora.gguf\n" in text
    assert (out / "triz-td010v2-q4km.Modelfile").read_text() == text
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["settings"]["mode"] == "adapter"


def test_unreachable_ollama_keeps_files_and_names_the_command(
    tiny_base: Path, tiny_adapter: Path, tmp_path: Path
) -> None:
    res = runner.invoke(
        app, _args(tiny_base, tiny_adapter, tmp_path / "o", "--verify", "none", "--ollama-host", "http://127.0.0.1:9")
    )
    assert res.exit_code == 1
    assert "ollama create triz-td010v2-q4km -f" in res.stderr
    assert (tmp_path / "o" / "triz-td010v2-q4km.gguf").is_file()


@pytest.mark.parametrize(
    ("extra", "message"),
    [(["--quant", "Q3_K"], "quant"), (["--verify", "sometimes"], "verify"), (["--mode", "lora"], "mode")],
)
def test_bad_options_exit_2(
    tiny_base: Path, tiny_adapter: Path, tmp_path: Path, extra: list[str], message: str
) -> None:
    res = runner.invoke(app, _args(tiny_base, tiny_adapter, tmp_path / "o", "--no-register", *extra))
    assert res.exit_code == 2, res.output
    assert message in res.stderr
    assert not (tmp_path / "o").exists()


def test_missing_adapter_exits_2(tiny_base: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, _args(tiny_base, tmp_path / "nope", tmp_path / "o", "--no-register"))
    assert res.exit_code == 2
    assert "adapter directory not found" in res.stderr


def test_unknown_profile_and_list() -> None:
    res = runner.invoke(app, ["export", "nosuch"])
    assert res.exit_code == 2 and "td010v2" in res.stderr
    res = runner.invoke(app, ["export", "--list"])
    assert res.exit_code == 0 and "triz-td010v2-q4km" in res.stdout


BAD_INPUTS = [
    ("base", {"quantization_config": {"quant_method": "bitsandbytes"}}, "quantized"),
    ("base", {"architectures": ["MistralForCausalLM"]}, "unsupported base architecture"),
    ("adapter", {"peft_type": "IA3"}, "not LoRA"),
    ("adapter", {"use_dora": True}, "DoRA"),
    ("adapter", {"modules_to_save": ["lm_head"]}, "modules_to_save"),
    ("adapter", {"r": 16}, "shape mismatch"),
    ("adapter", {"lora_alpha": 0}, "lora_alpha"),
]


@pytest.mark.parametrize("mode", ["merged", "adapter"])
@pytest.mark.parametrize(("target", "changes", "message"), BAD_INPUTS)
def test_every_bad_input_gives_one_message_and_exit_2(
    tiny_base: Path,
    tiny_adapter: Path,
    tmp_path: Path,
    mode: str,
    target: str,
    changes: dict[str, object],
    message: str,
) -> None:
    import shutil

    base, adapter = tmp_path / "base", tmp_path / "adapter"
    shutil.copytree(tiny_base, base)
    shutil.copytree(tiny_adapter, adapter)
    cfg_path = base / "config.json" if target == "base" else adapter / "adapter_config.json"
    cfg_path.write_text(json.dumps({**json.loads(cfg_path.read_text()), **changes}))
    res = runner.invoke(app, _args(base, adapter, tmp_path / "o", "--mode", mode, "--no-register"))
    assert res.exit_code == 2, res.output
    text = " ".join(res.stderr.split())  # the console wraps long lines
    assert text.startswith("error:") and text.count("error:") == 1 and message in text, res.stderr
    assert "Traceback" not in res.output
    assert not (tmp_path / "o").exists()
