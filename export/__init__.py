"""Export: LoRA merge into GGUF, quantization, verification, Modelfile and registration with Ollama.

`synapse export PROFILE` drives it (see `export.service`). The names below load their modules on
first use, so `import export` stays light: torch, peft and gguf come in only with the merge.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from export.errors import (
        ExportError,
        ExportFailed,
        ExportInputError,
        ExportProfileError,
        MergeError,
        MissingExportPackages,
        ModelfileError,
        OllamaCreateFailed,
        OllamaUnavailable,
        QuantizeError,
        RegisterError,
    )
    from export.pipeline import ExportRequest, Manifest, run_export
    from export.profiles import ExportProfile, get_profile, load_profiles
    from export.register import RegisterResult, register_model
    from export.service import ExportOptions, ExportOutcome, run_profile_export

__all__ = [
    "ExportError",
    "ExportFailed",
    "ExportInputError",
    "ExportOptions",
    "ExportOutcome",
    "ExportProfile",
    "ExportProfileError",
    "ExportRequest",
    "Manifest",
    "MergeError",
    "MissingExportPackages",
    "ModelfileError",
    "OllamaCreateFailed",
    "OllamaUnavailable",
    "QuantizeError",
    "RegisterError",
    "RegisterResult",
    "get_profile",
    "load_profiles",
    "register_model",
    "run_export",
    "run_profile_export",
]
# Where each public name lives; errors are the default, since most names are errors.
_HOMES: dict[str, str] = {
    **dict.fromkeys(("ExportRequest", "Manifest", "run_export"), "export.pipeline"),
    **dict.fromkeys(("ExportProfile", "get_profile", "load_profiles"), "export.profiles"),
    **dict.fromkeys(("RegisterResult", "register_model"), "export.register"),
    **dict.fromkeys(("ExportOptions", "ExportOutcome", "run_profile_export"), "export.service"),
}


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'export' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES.get(name, "export.errors")), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
