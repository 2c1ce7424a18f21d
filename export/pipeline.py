"""The export run: validate → merge into GGUF → quantize → verify → manifest, reusing finished outputs."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from collections.abc import Callable
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from export.base_store import BaseGguf, base_file_names, ensure_base_gguf, forget_base, place
from export.errors import ExportFailed, ExportInputError
from export.generation import base_sampling
from export.inputs import AdapterInfo, BaseModelInfo, check_free_disk, inspect_adapter, inspect_base
from export.lora_gguf import LoraType, write_lora_gguf
from export.merge import write_merged_gguf
from export.quantize import Quant, quantize_gguf
from export.register import file_digest
from export.verify import VerifyBounds, VerifyMode, VerifyReport, peak_rss_mb, verify_export

MANIFEST = "manifest.json"
FAILED_SUFFIX = ".failed"
BASE_STORE = "base-store"  # under the output folder, unless the request names a shared one
ExportMode = Literal["merged", "adapter"]
# Called with (phase, done, total) as work advances; phases: merge, quantize, verify.
PhaseProgress = Callable[[str, int, int], None]


class ExportRequest(BaseModel):
    """Everything one export needs, resolved from the profile and the command line."""

    model_name: str
    base: Path
    adapter: Path | None
    out: Path
    quant: Quant = "Q4_K_M"
    mode: ExportMode = "merged"
    verify: VerifyMode = "full"
    force: bool = False
    bounds: VerifyBounds = Field(default_factory=VerifyBounds)
    # Adapter mode keeps base GGUFs here, one folder per base, reused by every adapter on that base.
    base_store: Path | None = None
    # Adapter mode's LoRA GGUF: f16 halves what each adapter costs on disk and in memory, but decodes slower on
    # a CPU (bench/adapters_bench.py: 0.83-0.88x of the merged model against 0.88-0.99x for f32).
    lora_type: LoraType = "F32"


class Artifact(BaseModel):
    """One output file."""

    path: str
    sha256: str
    bytes: int


class Manifest(BaseModel):
    """What went in, what came out, how it was checked and how long it took (`manifest.json`)."""

    model_name: str
    status: Literal["ok", "failed"]
    created: str
    fingerprint: str
    reused: bool = False
    inputs: dict[str, str]
    trainable_params: int | None
    settings: dict[str, str]
    outputs: list[Artifact]
    verification: VerifyReport
    timings_s: dict[str, float]
    convert_peak_rss_mb: float
    versions: dict[str, str]
    base_gguf: str | None = None  # adapter mode: the stored base folder the base GGUFs came from
    base_reused: bool | None = None  # adapter mode: whether that folder already held them
    # The base's generation_config.json sampling under Ollama's names; SYNAPSE's embedded backend reads it.
    sampling: dict[str, float] = Field(default_factory=dict)


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file, read in chunks."""
    return file_digest(path).removeprefix("sha256:")


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in ("triz-agent", "torch", "transformers", "peft", "gguf", "llama-cpp-python", "safetensors"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "absent"
    return out


def _inputs(req: ExportRequest) -> dict[str, str]:
    files = {"base": str(req.base), "base/config.json": sha256_file(req.base / "config.json")}
    if req.adapter is not None:
        files["adapter"] = str(req.adapter)
        for name in ("adapter_config.json", "adapter_model.safetensors"):
            files[f"adapter/{name}"] = sha256_file(req.adapter / name)
    return files


def _fingerprint(req: ExportRequest, inputs: dict[str, str], base_tensors: str) -> str:
    key = json.dumps(
        {
            "inputs": inputs,
            "tensors": base_tensors,
            "quant": req.quant,
            "name": req.model_name,
            "mode": req.mode,
            **({"lora_type": req.lora_type} if req.mode == "adapter" else {}),
        },
        sort_keys=True,
    )
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _write_json(path: Path, data: str) -> None:
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(data, encoding="utf-8")
    os.replace(tmp, path)


def _reusable(req: ExportRequest, fingerprint: str) -> Manifest | None:
    path = req.out / MANIFEST
    if req.force or not path.is_file():
        return None
    try:
        old = Manifest.model_validate_json(path.read_text(encoding="utf-8"))
    except ValueError:
        return None
    if old.status != "ok" or old.fingerprint != fingerprint:
        return None
    for art in old.outputs:
        f = req.out / art.path
        if not f.is_file() or f.stat().st_size != art.bytes:
            return None
    return old.model_copy(update={"reused": True})


def output_names(model_name: str, quant: Quant) -> tuple[str, str]:
    """File names of the float16 GGUF and of the final (quantized) GGUF."""
    final = f"{model_name}.gguf"
    return (final if quant == "F16" else f"{model_name}-f16.gguf"), final


def lora_name(model_name: str) -> str:
    """File name of the LoRA GGUF in adapter mode."""
    return f"{model_name}-lora.gguf"


def ollama_files(model_name: str, quant: Quant, mode: ExportMode) -> tuple[str, str | None]:
    """The files a Modelfile names: FROM, and ADAPTER in adapter mode."""
    if mode == "adapter":
        return base_file_names(quant)[1], lora_name(model_name)
    return output_names(model_name, quant)[1], None


def run_export(req: ExportRequest, progress: PhaseProgress | None = None) -> Manifest:
    """Run one export; raises ExportInputError on bad inputs and ExportFailed when verification fails."""
    start = time.perf_counter()
    base, adapter, inputs, fingerprint = _check_inputs(req)
    timings: dict[str, float] = {"validate": time.perf_counter() - start}
    if (old := _reusable(req, fingerprint)) is not None:
        return old
    files, lora, stored = _write_outputs(req, base, adapter, timings, progress)
    convert_peak = peak_rss_mb()
    if progress is not None and req.verify != "none":
        progress("verify", 0, 1)
    report = verify_export(req.verify, base, adapter, files, req.bounds, lora=lora)
    timings["verify"] = report.seconds
    status: Literal["ok", "failed"] = "ok" if report.passed else "failed"
    outputs = [p for p, _ in files] + ([lora] if lora is not None else [])
    if status == "failed":
        # Keep the evidence, but never under the names Ollama or the user would pick up.
        outputs = [p.rename(p.with_name(p.name + FAILED_SUFFIX)) for p in outputs]
        if stored is not None:
            forget_base(stored.folder)  # written afresh next time rather than trusted
    manifest = Manifest(
        model_name=req.model_name,
        status=status,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        fingerprint=fingerprint,
        inputs=inputs,
        trainable_params=adapter.trainable_params if adapter else None,
        settings={
            "quant": req.quant,
            "mode": req.mode,
            "verify": req.verify,
            **({"lora_type": req.lora_type} if req.mode == "adapter" else {}),
        },
        outputs=[Artifact(path=p.name, sha256=sha256_file(p), bytes=p.stat().st_size) for p in outputs],
        verification=report,
        timings_s={k: round(v, 3) for k, v in timings.items()},
        convert_peak_rss_mb=round(convert_peak, 1),
        versions=_versions(),
        base_gguf=None if stored is None else str(stored.folder),
        base_reused=None if stored is None else stored.reused,
        sampling=base_sampling(req.base),
    )
    _write_json(
        req.out / (MANIFEST if status == "ok" else MANIFEST + FAILED_SUFFIX), manifest.model_dump_json(indent=2)
    )
    if status == "failed":
        raise ExportFailed(
            "verification failed: " + "; ".join(report.problems),
            f"the files were kept as *{FAILED_SUFFIX} in {req.out} for inspection",
        )
    return manifest


def _check_inputs(req: ExportRequest) -> tuple[BaseModelInfo, AdapterInfo | None, dict[str, str], str]:
    """The validated base and adapter, the inputs' digests and the fingerprint that decides reuse."""
    base = inspect_base(req.base)
    adapter = inspect_adapter(req.adapter, base) if req.adapter is not None else None
    if req.mode == "adapter" and adapter is None:
        raise ExportInputError("--mode adapter needs an adapter", "pass --adapter DIR, or use --mode merged")
    inputs = _inputs(req)
    tensors_key = hashlib.sha256(json.dumps({k: v.shape for k, v in sorted(base.tensors.items())}).encode()).hexdigest()
    return base, adapter, inputs, _fingerprint(req, inputs, tensors_key)


def _write_outputs(
    req: ExportRequest,
    base: BaseModelInfo,
    adapter: AdapterInfo | None,
    timings: dict[str, float],
    progress: PhaseProgress | None,
) -> tuple[list[tuple[Path, str]], Path | None, BaseGguf | None]:
    """The GGUF files of the request's mode: (path, kind) of each, the LoRA GGUF and the stored base, if any."""

    def phase(name: str) -> Callable[[int, int], None] | None:
        return None if progress is None else (lambda done, total: progress(name, done, total))

    if req.mode == "adapter":
        assert adapter is not None  # _check_inputs refuses adapter mode without one
        return _write_adapter_mode(req, base, adapter, timings, phase("base"))
    merged = _write_merged_mode(req, (base, adapter), timings, phase("merge"), phase("quantize"))
    return merged, None, None


def _write_merged_mode(
    req: ExportRequest,
    inputs: tuple[BaseModelInfo, AdapterInfo | None],
    timings: dict[str, float],
    progress: Callable[[int, int], None] | None,
    quantizing: Callable[[int, int], None] | None,
) -> list[tuple[Path, str]]:
    """The adapter merged into one F16 GGUF, then quantized; returns (path, kind) of each file."""
    base, adapter = inputs
    f16_name, final_name = output_names(req.model_name, req.quant)
    f16_path, final_path = req.out / f16_name, req.out / final_name
    check_free_disk(req.out, base.n_params * 2 + (0 if req.quant == "F16" else base.n_params))
    req.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    write_merged_gguf(base, adapter, f16_path, "F16", req.model_name, progress)
    timings["merge"] = time.perf_counter() - t0
    files = [(f16_path, "F16")]
    if req.quant != "F16":
        t0 = time.perf_counter()
        quantize_gguf(f16_path, final_path, req.quant, progress=quantizing)
        timings["quantize"] = time.perf_counter() - t0
        files.append((final_path, req.quant))
    return files


def _write_adapter_mode(
    req: ExportRequest,
    base: BaseModelInfo,
    adapter: AdapterInfo,
    timings: dict[str, float],
    progress: Callable[[int, int], None] | None,
) -> tuple[list[tuple[Path, str]], Path, BaseGguf]:
    """The base as GGUF (from the store when it is there) plus the adapter as a LoRA GGUF."""
    store = req.base_store or req.out / BASE_STORE
    req.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    stored = ensure_base_gguf(base, store, req.quant, base.path.name, progress)
    timings.update(stored.seconds)
    timings["base"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    lora = write_lora_gguf(base, adapter, req.out / lora_name(req.model_name), req.model_name, req.lora_type).path
    timings["lora"] = time.perf_counter() - t0
    f16_name, final_name = base_file_names(req.quant)
    files = [(place(stored.f16, req.out / f16_name), "F16")]
    if req.quant != "F16":
        files.append((place(stored.final, req.out / final_name), req.quant))
    return files, lora, stored
