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

from export.inputs import check_free_disk, inspect_adapter, inspect_base
from export.merge import write_merged_gguf
from export.quantize import Quant, quantize_gguf
from export.register import file_digest
from export.verify import VerifyBounds, VerifyMode, VerifyReport, peak_rss_mb, verify_export
from synapse.errors import SynapseError

MANIFEST = "manifest.json"
FAILED_SUFFIX = ".failed"
# Called with (phase, done, total) as work advances; phases: merge, quantize, verify.
PhaseProgress = Callable[[str, int, int], None]


class ExportFailed(SynapseError):
    """The export ran but its result did not pass verification."""

    exit_code = 1


class ExportRequest(BaseModel):
    """Everything one export needs, resolved from the profile and the command line."""

    model_name: str
    base: Path
    adapter: Path | None
    out: Path
    quant: Quant = "Q4_K_M"
    verify: VerifyMode = "full"
    force: bool = False
    bounds: VerifyBounds = Field(default_factory=VerifyBounds)


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
        {"inputs": inputs, "tensors": base_tensors, "quant": req.quant, "name": req.model_name}, sort_keys=True
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


def run_export(req: ExportRequest, progress: PhaseProgress | None = None) -> Manifest:
    """Run one export; raises ExportInputError on bad inputs and ExportFailed when verification fails."""
    timings: dict[str, float] = {}
    start = time.perf_counter()
    base = inspect_base(req.base)
    adapter = inspect_adapter(req.adapter, base) if req.adapter is not None else None
    inputs = _inputs(req)
    tensors_key = hashlib.sha256(json.dumps({k: v.shape for k, v in sorted(base.tensors.items())}).encode()).hexdigest()
    fingerprint = _fingerprint(req, inputs, tensors_key)
    timings["validate"] = time.perf_counter() - start
    if (old := _reusable(req, fingerprint)) is not None:
        return old

    f16_name, final_name = output_names(req.model_name, req.quant)
    f16_path, final_path = req.out / f16_name, req.out / final_name
    check_free_disk(req.out, base.n_params * 2 + (0 if req.quant == "F16" else base.n_params))
    req.out.mkdir(parents=True, exist_ok=True)

    def phase(name: str) -> Callable[[int, int], None] | None:
        return None if progress is None else (lambda done, total: progress(name, done, total))

    t0 = time.perf_counter()
    write_merged_gguf(base, adapter, f16_path, "F16", req.model_name, phase("merge"))
    timings["merge"] = time.perf_counter() - t0
    files = [(f16_path, "F16")]
    if req.quant != "F16":
        t0 = time.perf_counter()
        quantize_gguf(f16_path, final_path, req.quant)
        timings["quantize"] = time.perf_counter() - t0
        files.append((final_path, req.quant))
    convert_peak = peak_rss_mb()
    if progress is not None and req.verify != "none":
        progress("verify", 0, 1)
    report = verify_export(req.verify, base, adapter, files, req.bounds)
    timings["verify"] = report.seconds
    status: Literal["ok", "failed"] = "ok" if report.passed else "failed"
    if status == "failed":
        # Keep the evidence, but never under the names Ollama or the user would pick up.
        files = [(p.rename(p.with_name(p.name + FAILED_SUFFIX)), kind) for p, kind in files]
    manifest = Manifest(
        model_name=req.model_name,
        status=status,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        fingerprint=fingerprint,
        inputs=inputs,
        trainable_params=adapter.trainable_params if adapter else None,
        settings={"quant": req.quant, "mode": "merged", "verify": req.verify},
        outputs=[Artifact(path=p.name, sha256=sha256_file(p), bytes=p.stat().st_size) for p, _ in files],
        verification=report,
        timings_s={k: round(v, 3) for k, v in timings.items()},
        convert_peak_rss_mb=round(convert_peak, 1),
        versions=_versions(),
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
