"""Read and validate the base model and the LoRA adapter before any heavy work."""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from export.errors import ExportInputError

SUPPORTED_ARCHS = {"Qwen2ForCausalLM": "qwen2", "LlamaForCausalLM": "llama"}
_LORA_KEY = re.compile(r"^(?:base_model\.model\.)?(?P<module>.+)\.lora_(?P<ab>[AB])(?:\.default)?\.weight$")


class TensorMeta(BaseModel):
    """Where one tensor lives and what it looks like, read from a safetensors header."""

    file: Path
    shape: list[int]
    dtype: str
    start: int = 0  # absolute byte offsets of the data in the file
    end: int = 0


class BaseModelInfo(BaseModel):
    """The parts of a Hugging Face causal-LM checkpoint that the export needs."""

    path: Path
    arch: Literal["qwen2", "llama"]
    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    vocab: int
    context: int
    rope_theta: float
    rms_eps: float
    tied_embeddings: bool
    tensors: dict[str, TensorMeta]

    @property
    def n_params(self) -> int:
        return sum(math.prod(t.shape) for t in self.tensors.values())


class LoraPair(BaseModel):
    """The A and B matrices of one adapted module and the scale of its update."""

    module: str
    a_key: str
    b_key: str
    rank: int
    scale: float


class AdapterInfo(BaseModel):
    """A peft LoRA adapter: its settings, files and the modules it changes."""

    path: Path
    file: Path
    rank: int
    alpha: float
    rslora: bool
    targets: list[str]
    pairs: dict[str, LoraPair]  # keyed by the base weight name it updates
    trainable_params: int


def _read_json(path: Path, what: str, hint: str) -> dict[str, Any]:
    if not path.is_file():
        raise ExportInputError(f"{what} not found: {path}", hint)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ExportInputError(
            f"{what} is not valid JSON: {path} ({exc})", "re-save it or point to another copy"
        ) from exc
    if not isinstance(data, dict):
        raise ExportInputError(f"{what} is not a JSON object: {path}", "re-save it or point to another copy")
    return data


def safetensors_header(path: Path) -> dict[str, Any]:
    """The JSON header of a safetensors file, read without loading any tensor."""
    try:
        with path.open("rb") as fh:
            size = int.from_bytes(fh.read(8), "little")
            if not 0 < size < 100_000_000:
                raise ValueError("bad header length")
            header: dict[str, Any] = json.loads(fh.read(size))
    except (OSError, ValueError) as exc:
        raise ExportInputError(f"not a readable safetensors file: {path} ({exc})", "check the download") from exc
    header.pop("__metadata__", None)
    for meta in header.values():
        if isinstance(meta, dict) and "data_offsets" in meta:
            # Offsets in the file count from the end of the header.
            meta["start"], meta["end"] = (8 + size + int(o) for o in meta["data_offsets"])
    return header


def inspect_base(path: Path) -> BaseModelInfo:
    """Validate a base checkpoint directory: supported architecture, not quantized, safetensors present."""
    if not path.is_dir():
        raise ExportInputError(f"base model directory not found: {path}", "pass --base DIR or a cached Hugging Face id")
    cfg = _read_json(path / "config.json", "base config.json", "a Hugging Face model directory has config.json")
    archs = cfg.get("architectures") or []
    arch = next((SUPPORTED_ARCHS[a] for a in archs if a in SUPPORTED_ARCHS), None)
    if arch is None:
        raise ExportInputError(
            f"unsupported base architecture {archs or cfg.get('model_type')!r}",
            f"supported: {', '.join(SUPPORTED_ARCHS)}",
        )
    quant = cfg.get("quantization_config")
    if quant:
        method = quant.get("quant_method", "unknown") if isinstance(quant, dict) else quant
        raise ExportInputError(
            f"the base model is quantized ({method}); merging a LoRA into a quantized base ruins quality",
            "use the original bf16/fp16/fp32 base model",
        )
    files = sorted(path.glob("*.safetensors"))
    if not files:
        raise ExportInputError(f"no .safetensors weights in {path}", "convert .bin weights with transformers first")
    tensors: dict[str, TensorMeta] = {}
    for f in files:
        for name, meta in safetensors_header(f).items():
            tensors[name] = TensorMeta(
                file=f, shape=list(meta["shape"]), dtype=str(meta["dtype"]), start=meta["start"], end=meta["end"]
            )
    if any(t.dtype in ("I8", "U8", "F8_E4M3", "F8_E5M2") for t in tensors.values()):
        raise ExportInputError("the base weights are stored as 8-bit integers or floats", "use the unquantized base")
    rope = cfg.get("rope_theta") or (cfg.get("rope_parameters") or {}).get("rope_theta") or 10000.0
    tied = bool(cfg.get("tie_word_embeddings", False))
    if not tied and "lm_head.weight" not in tensors:
        raise ExportInputError("the base has untied embeddings but no lm_head.weight", "the checkpoint is incomplete")
    return BaseModelInfo(
        path=path,
        arch=arch,  # type: ignore[arg-type]
        hidden=int(cfg["hidden_size"]),
        intermediate=int(cfg["intermediate_size"]),
        layers=int(cfg["num_hidden_layers"]),
        heads=int(cfg["num_attention_heads"]),
        kv_heads=int(cfg.get("num_key_value_heads") or cfg["num_attention_heads"]),
        vocab=int(cfg["vocab_size"]),
        context=int(cfg.get("max_position_embeddings") or 4096),
        rope_theta=float(rope),
        rms_eps=float(cfg.get("rms_norm_eps") or 1e-6),
        tied_embeddings=tied,
        tensors=tensors,
    )


def inspect_adapter(path: Path, base: BaseModelInfo) -> AdapterInfo:
    """Validate a peft LoRA adapter against its base: type, settings, and every A/B shape."""
    if not path.is_dir():
        raise ExportInputError(f"adapter directory not found: {path}", "pass --adapter DIR (with adapter_config.json)")
    cfg = _read_json(path / "adapter_config.json", "adapter_config.json", "peft's save_pretrained writes it")
    rank, alpha = _lora_settings(cfg)
    rslora = bool(cfg.get("use_rslora"))
    scale = alpha / math.sqrt(rank) if rslora else alpha / rank
    targets = cfg.get("target_modules") or []
    targets = sorted(targets) if isinstance(targets, list) else [str(targets)]
    files = [p for p in (path / "adapter_model.safetensors",) if p.is_file()]
    if not files:
        hint = (
            "re-save with safe_serialization=True"
            if (path / "adapter_model.bin").exists()
            else "the adapter is incomplete"
        )
        raise ExportInputError(f"no adapter_model.safetensors in {path}", hint)
    pairs, trainable = _lora_pairs(safetensors_header(files[0]), base, rank, scale)
    if not pairs:
        raise ExportInputError(f"the adapter in {path} has no LoRA weights", "check the adapter directory")
    return AdapterInfo(
        path=path,
        file=files[0],
        rank=rank,
        alpha=alpha,
        rslora=rslora,
        targets=targets,
        pairs=pairs,
        trainable_params=trainable,
    )


def _lora_settings(cfg: dict[str, Any]) -> tuple[int, float]:
    """The rank and alpha of a plain LoRA adapter_config.json; refuses the variants this export cannot merge."""
    if str(cfg.get("peft_type", "")).upper() != "LORA":
        raise ExportInputError(f"adapter type {cfg.get('peft_type')!r} is not LoRA", "only peft LoRA adapters export")
    if cfg.get("use_dora"):
        raise ExportInputError("DoRA adapters are not supported", "train a plain LoRA (use_dora=False)")
    if cfg.get("modules_to_save"):
        raise ExportInputError(
            f"the adapter saves whole modules {cfg['modules_to_save']}, which this export does not merge",
            "train without modules_to_save",
        )
    if cfg.get("rank_pattern") or cfg.get("alpha_pattern"):
        raise ExportInputError("per-module rank_pattern/alpha_pattern is not supported", "use one r and lora_alpha")
    rank, alpha = int(cfg.get("r") or 0), float(cfg.get("lora_alpha") or 0)
    if rank <= 0 or alpha <= 0:
        raise ExportInputError(f"adapter_config.json has r={rank}, lora_alpha={alpha}", "both must be positive")
    return rank, alpha


def _lora_pairs(
    header: dict[str, Any], base: BaseModelInfo, rank: int, scale: float
) -> tuple[dict[str, LoraPair], int]:
    """The A/B pairs of an adapter file keyed by the base weight each updates, and their parameter count."""
    halves: dict[str, dict[str, tuple[str, list[int]]]] = {}
    for key, meta in header.items():
        m = _LORA_KEY.match(key)
        if m is None:
            raise ExportInputError(
                f"unexpected tensor {key!r} in the adapter", "only lora_A/lora_B weights can be merged"
            )
        halves.setdefault(m.group("module"), {})[m.group("ab")] = (key, list(meta["shape"]))
    pairs: dict[str, LoraPair] = {}
    trainable = 0
    for module, ab in sorted(halves.items()):
        if set(ab) != {"A", "B"}:
            raise ExportInputError(f"module {module} has only lora_{''.join(ab)}", "the adapter file is incomplete")
        weight = f"{module}.weight"
        if weight not in base.tensors:
            raise ExportInputError(f"the adapter changes {weight}, which the base does not have", "wrong base model?")
        (a_key, a_shape), (b_key, b_shape) = ab["A"], ab["B"]
        out_dim, in_dim = base.tensors[weight].shape
        if a_shape != [rank, in_dim] or b_shape != [out_dim, rank]:
            raise ExportInputError(
                f"shape mismatch on {module}: A{a_shape} B{b_shape} vs base {base.tensors[weight].shape} at r={rank}",
                "the adapter was trained on another base model",
            )
        pairs[weight] = LoraPair(module=module, a_key=a_key, b_key=b_key, rank=rank, scale=scale)
        trainable += math.prod(a_shape) + math.prod(b_shape)
    return pairs, trainable


def check_free_disk(out_dir: Path, needed_bytes: int) -> None:
    """Refuse to start when the output disk cannot hold the files (with 10 % to spare)."""
    probe = out_dir
    while not probe.exists():
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if free < needed_bytes * 1.1:
        raise ExportInputError(
            f"not enough free disk in {probe}: {free / 2**30:.1f} GiB free, "
            f"{needed_bytes * 1.1 / 2**30:.1f} GiB needed",
            "free some space or choose another --out",
        )
