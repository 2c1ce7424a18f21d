"""A loaded GGUF described the way Ollama's /api/show describes a model: its metadata, template, parameters."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from synapse.llm.models import ModelCard, ParameterValues

# The template is shown on its own; the vocabulary arrays llama-cpp-python leaves out of `metadata` anyway.
_SHOWN_APART = re.compile(r"^tokenizer\.chat_template")
_INT = re.compile(r"^-?\d+$")
_FLOAT = re.compile(r"^-?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?$")
#: What the embedded backend serves for any chat model: it renders tools through the template itself.
CHAT_CAPABILITIES = ("completion", "tools")


def _typed(value: str) -> bool | int | float | str:
    """llama-cpp-python gives every metadata value as text; numbers and booleans go back to what they were,
    as Ollama shows them."""
    if value in ("true", "false"):
        return value == "true"
    if _INT.match(value):
        return int(value)
    if _FLOAT.match(value):
        return float(value)
    return value


def file_type_name(value: str | None) -> str | None:
    """`general.file_type` by llama.cpp's name for it ("15" is "Q4_K_M"), as Ollama's quantization_level."""
    if value is None or not _INT.match(value):
        return value
    import llama_cpp

    for attr in dir(llama_cpp):
        if attr.startswith("LLAMA_FTYPE_") and getattr(llama_cpp, attr) == int(value):
            return attr.removeprefix("LLAMA_FTYPE_").removeprefix("MOSTLY_").removeprefix("ALL_")
    return value


def model_info(metadata: Mapping[str, str], n_params: int | None = None) -> dict[str, Any]:
    """The GGUF's scalar metadata (`general.*`, `<arch>.*`, `tokenizer.ggml.*`) with typed values."""
    info: dict[str, Any] = {k: _typed(v) for k, v in sorted(metadata.items()) if not _SHOWN_APART.match(k)}
    if n_params is not None:
        info.setdefault("general.parameter_count", n_params)
    return info


def gguf_card(
    metadata: Mapping[str, str], *, template: str, n_ctx: int, stops: Sequence[str], n_params: int | None = None
) -> ModelCard:
    """The card of the embedded model: its chat template, the context it runs with and its stop strings."""
    parameters: dict[str, ParameterValues] = {"num_ctx": [n_ctx]}
    if stops:
        parameters["stop"] = list(stops)
    return ModelCard(
        template=template,
        parameters=parameters,
        model_info=model_info(metadata, n_params),
        capabilities=list(CHAT_CAPABILITIES),
    )
