"""`synapse export PROFILE`: resolve inputs, run the export, write the Modelfiles and register with Ollama."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from export.errors import ExportInputError, OllamaUnavailable
from export.llama_log import llama_log_to
from export.lora_gguf import LoraType
from export.modelfile import modelfile_filename, render_modelfile, write_modelfile
from export.pipeline import BASE_STORE, ExportMode, ExportRequest, Manifest, PhaseProgress, ollama_files, run_export
from export.profiles import ExportProfile
from export.quantize import Quant
from export.register import RegisterResult, register_model
from export.verify import VerifyBounds, VerifyMode
from synapse.paths import default_data_dir

#: llama.cpp's log lines of the export, in its output folder.
EXPORT_LOG = "export.log"
REPO_MODELFILES = Path(__file__).resolve().parents[1] / "modelfiles"


class ExportOptions(BaseModel):
    """The command line's choices on top of a profile."""

    base: str | None = None
    adapter: Path | None = None
    out: Path | None = None
    quant: Quant | None = None
    mode: ExportMode = "merged"
    lora_type: LoraType = "F32"
    verify: VerifyMode = "full"
    register_with_ollama: bool = True
    ollama_host: str | None = None
    force: bool = False
    download: bool = False
    # llama.cpp's own log lines on the terminal too; they always go to the output folder's export.log.
    verbose: bool = False


class ExportOutcome(BaseModel):
    """What one `synapse export` produced."""

    manifest: Manifest
    modelfile: Path
    repo_modelfile: Path | None
    registration: RegisterResult | None = None
    register_error: str | None = None


def resolve_base(spec: str, download: bool) -> Path:
    """A local base model directory: the path itself, or the Hugging Face cache (downloading only if asked)."""
    path = Path(spec).expanduser()
    if path.is_dir():
        return path
    if "/" not in spec or path.exists() or spec.startswith((".", "/", "~")):
        raise ExportInputError(f"base model directory not found: {spec}", "pass --base DIR or a Hugging Face id")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(spec, local_files_only=not download))
    except LocalEntryNotFoundError:
        raise ExportInputError(
            f"{spec} is not in the local Hugging Face cache",
            "add --download to fetch it (about 3 GB for Qwen2.5-1.5B), or pass --base DIR",
        ) from None
    except Exception as exc:  # network or hub errors, reported with their own words
        raise ExportInputError(
            f"could not get {spec}: {exc}", "check the id and the network, or pass --base DIR"
        ) from exc


def run_profile_export(
    profile: ExportProfile,
    options: ExportOptions,
    progress: PhaseProgress | None = None,
    register_progress: Callable[[str, int | None, int | None], None] | None = None,
    bounds: VerifyBounds | None = None,
) -> ExportOutcome:
    """Export `profile` with the command line's overrides; registration failures leave the files in place."""
    quant = options.quant or profile.quant
    if quant != profile.quant and options.quant is not None:
        profile = profile.model_copy(update={"quant": quant})
    adapter = options.adapter or (Path(profile.adapter) if profile.adapter else None)
    if adapter is None:
        raise ExportInputError(f"profile {profile.name} names no adapter", "pass --adapter DIR")
    base = resolve_base(options.base or profile.base, options.download)
    exports = default_data_dir() / "exports"
    out = options.out or exports / profile.ollama_name
    request = ExportRequest(
        model_name=profile.ollama_name,
        base=base,
        adapter=adapter,
        out=out,
        quant=quant,
        mode=options.mode,
        lora_type=options.lora_type,
        verify=options.verify,
        force=options.force,
        bounds=bounds or VerifyBounds(),
        base_store=exports / BASE_STORE,  # shared, so a second adapter on the same base reuses its GGUF
    )
    with llama_log_to(out / EXPORT_LOG, echo=options.verbose):
        manifest = run_export(request, progress)
    profile = profile.model_copy(update={"base_sampling": manifest.sampling})
    from_name, adapter_name = ollama_files(profile.ollama_name, quant, options.mode)
    text = render_modelfile(profile, f"./{from_name}", None if adapter_name is None else f"./{adapter_name}")
    modelfile = write_modelfile(out / modelfile_filename(profile), text)
    repo_copy = None
    if REPO_MODELFILES.is_dir():
        repo_copy = write_modelfile(REPO_MODELFILES / modelfile_filename(profile), text)
    outcome = ExportOutcome(manifest=manifest, modelfile=modelfile, repo_modelfile=repo_copy)
    if options.register_with_ollama:
        try:
            outcome.registration = register_model(
                options.ollama_host,
                profile,
                out / from_name,
                register_progress,
                adapter_path=None if adapter_name is None else out / adapter_name,
                modelfile_path=modelfile,
            )
        except OllamaUnavailable as exc:
            outcome.register_error = str(exc)
    return outcome
