"""Validation of the base model and adapter before any heavy work."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from export.errors import ExportInputError
from export.inputs import check_free_disk, inspect_adapter, inspect_base

MODULES = {
    "self_attn.q_proj": (1536, 1536),
    "self_attn.k_proj": (256, 1536),
    "self_attn.v_proj": (256, 1536),
    "self_attn.o_proj": (1536, 1536),
    "mlp.gate_proj": (8960, 1536),
    "mlp.up_proj": (8960, 1536),
    "mlp.down_proj": (1536, 8960),
}
QWEN25_15B_CONFIG = {
    "architectures": ["Qwen2ForCausalLM"],
    "hidden_size": 1536,
    "intermediate_size": 8960,
    "num_hidden_layers": 28,
    "num_attention_heads": 12,
    "num_key_value_heads": 2,
    "vocab_size": 151936,
    "max_position_embeddings": 32768,
    "rope_theta": 1000000.0,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": True,
}


def _header_only(path: Path, shapes: dict[str, list[int]]) -> None:
    """A safetensors file with a real header and no data: enough for validation, which reads headers only."""
    header = {name: {"dtype": "BF16", "shape": shape, "data_offsets": [0, 0]} for name, shape in shapes.items()}
    blob = json.dumps(header).encode()
    path.write_bytes(len(blob).to_bytes(8, "little") + blob)


@pytest.fixture
def qwen15b(tmp_path: Path) -> tuple[Path, Path]:
    """Header-only Qwen2.5-1.5B base and a TD-010v2-shaped adapter (rank 8, alpha 16, seven modules)."""
    base, adapter = tmp_path / "base", tmp_path / "adapter"
    base.mkdir()
    adapter.mkdir()
    (base / "config.json").write_text(json.dumps(QWEN25_15B_CONFIG))
    weights = {"model.embed_tokens.weight": [151936, 1536], "model.norm.weight": [1536]}
    lora = {}
    for layer in range(28):
        for module, (out_dim, in_dim) in MODULES.items():
            weights[f"model.layers.{layer}.{module}.weight"] = [out_dim, in_dim]
            prefix = f"base_model.model.model.layers.{layer}.{module}"
            lora[f"{prefix}.lora_A.weight"] = [8, in_dim]
            lora[f"{prefix}.lora_B.weight"] = [out_dim, 8]
    _header_only(base / "model.safetensors", weights)
    _header_only(adapter / "adapter_model.safetensors", lora)
    (adapter / "adapter_config.json").write_text(
        json.dumps(
            {
                "peft_type": "LORA",
                "r": 8,
                "lora_alpha": 16,
                "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
            }
        )
    )
    return base, adapter


def test_td010v2_shapes_count_9232384(qwen15b: tuple[Path, Path]) -> None:
    base = inspect_base(qwen15b[0])
    adapter = inspect_adapter(qwen15b[1], base)
    assert adapter.trainable_params == 9_232_384
    assert len(adapter.pairs) == 28 * 7
    assert adapter.pairs["model.layers.0.self_attn.q_proj.weight"].scale == 2.0
    assert base.tied_embeddings and base.arch == "qwen2"


def test_rslora_scale(qwen15b: tuple[Path, Path]) -> None:
    cfg_path = qwen15b[1] / "adapter_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg_path.write_text(json.dumps({**cfg, "use_rslora": True}))
    adapter = inspect_adapter(qwen15b[1], inspect_base(qwen15b[0]))
    assert adapter.pairs["model.layers.0.mlp.up_proj.weight"].scale == pytest.approx(16 / 8**0.5)


def _edit(path: Path, **changes: object) -> None:
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    ("target", "changes", "message"),
    [
        ("base", {"quantization_config": {"quant_method": "bitsandbytes"}}, "quantized"),
        ("base", {"architectures": ["MistralForCausalLM"]}, "unsupported base architecture"),
        ("adapter", {"peft_type": "IA3"}, "not LoRA"),
        ("adapter", {"use_dora": True}, "DoRA"),
        ("adapter", {"modules_to_save": ["lm_head"]}, "modules_to_save"),
        ("adapter", {"r": 16}, "shape mismatch"),
        ("adapter", {"rank_pattern": {"q_proj": 4}}, "rank_pattern"),
    ],
)
def test_bad_configs(qwen15b: tuple[Path, Path], target: str, changes: dict[str, object], message: str) -> None:
    base_dir, adapter_dir = qwen15b
    _edit(base_dir / "config.json" if target == "base" else adapter_dir / "adapter_config.json", **changes)
    with pytest.raises(ExportInputError, match=message) as info:
        inspect_adapter(adapter_dir, inspect_base(base_dir))
    assert info.value.hint


def test_missing_pieces(qwen15b: tuple[Path, Path], tmp_path: Path) -> None:
    base_dir, adapter_dir = qwen15b
    with pytest.raises(ExportInputError, match="not found"):
        inspect_base(tmp_path / "nowhere")
    base = inspect_base(base_dir)
    (adapter_dir / "adapter_model.safetensors").unlink()
    with pytest.raises(ExportInputError, match=r"no adapter_model\.safetensors"):
        inspect_adapter(adapter_dir, base)
    (base_dir / "model.safetensors").unlink()
    with pytest.raises(ExportInputError, match=r"no \.safetensors"):
        inspect_base(base_dir)


def test_adapter_for_another_base(qwen15b: tuple[Path, Path]) -> None:
    base_dir, adapter_dir = qwen15b
    cfg = json.loads((base_dir / "config.json").read_text())
    cfg["num_hidden_layers"] = 2
    (base_dir / "config.json").write_text(json.dumps(cfg))
    _header_only(base_dir / "model.safetensors", {"model.layers.0.self_attn.q_proj.weight": [1536, 1536]})
    with pytest.raises(ExportInputError, match="which the base does not have"):
        inspect_adapter(adapter_dir, inspect_base(base_dir))


def test_free_disk_is_checked(tmp_path: Path) -> None:
    free = shutil.disk_usage(tmp_path).free
    check_free_disk(tmp_path / "new" / "dir", 1024)
    with pytest.raises(ExportInputError, match="not enough free disk"):
        check_free_disk(tmp_path, free * 2)
