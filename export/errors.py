"""The errors an export can end with, one class per kind of failure, all of them SynapseErrors."""

from __future__ import annotations

from synapse.errors import SynapseError


class ExportError(SynapseError):
    """Base of every export failure: a message that names the problem and a hint that names the fix."""


class ExportInputError(ExportError):
    """A base model, adapter, option or output folder that cannot be exported as given."""


class MergeError(ExportInputError):
    """A base or adapter that cannot be written as GGUF: a tensor or type llama.cpp lacks, or no disk for the file."""


class ExportProfileError(ExportError):
    """An unknown export profile, or a profile file that cannot be read or is invalid."""


class QuantizeError(ExportError):
    """llama.cpp refused to quantize."""


class ExportFailed(ExportError):
    """The export ran but its result did not pass verification."""

    exit_code = 1


class ModelfileError(ExportError):
    """A profile text or path that cannot be written into a Modelfile so that Ollama reads it back."""


class RegisterError(ExportError):
    """The model could not be registered with Ollama."""


class OllamaUnavailable(RegisterError):
    """Ollama could not be reached (refused, timed out, dropped), so the model was not registered."""

    exit_code = 2


class OllamaCreateFailed(RegisterError):
    """Ollama answered but refused the blob or the model; its own message is quoted."""

    exit_code = 1


class MissingExportPackages(ExportError):
    """The packages of the `export` extra (torch, peft, gguf, llama-cpp-python...) are not installed."""
