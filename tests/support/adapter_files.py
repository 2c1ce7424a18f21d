"""One tiny random base as an F32 GGUF, two random LoRA GGUFs on it, and each LoRA merged into its own GGUF."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: The adapters' names and the seeds of their random matrices.
ADAPTERS = (("sport", 11), ("physics", 12))


@dataclass(frozen=True)
class AdapterFiles:
    base: Path
    loras: dict[str, Path]
    merged: dict[str, Path]


def build_adapter_files(hf_base: Path, out: Path) -> AdapterFiles:
    """Export `hf_base` (a random Qwen2 from synthetic_models) and two random LoRAs the way the export does."""
    from export.inputs import inspect_adapter, inspect_base
    from export.lora_gguf import write_lora_gguf
    from export.merge import write_merged_gguf
    from tests.support.synthetic_models import build_random_lora

    base = inspect_base(hf_base)
    plain = write_merged_gguf(base, None, out / "base-f32.gguf", "F32").path
    loras, merged = {}, {}
    for name, seed in ADAPTERS:
        adapter = inspect_adapter(build_random_lora(hf_base, out / name, seed=seed), base)
        loras[name] = write_lora_gguf(base, adapter, out / f"{name}-lora.gguf", name).path
        merged[name] = write_merged_gguf(base, adapter, out / f"{name}-f32.gguf", "F32").path
    return AdapterFiles(plain, loras, merged)
