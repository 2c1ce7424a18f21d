"""Export profiles: what to merge, how to quantize and how to present the model to Ollama."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from export.errors import ExportProfileError
from export.quantize import Quant
from synapse.config import ExportSettings
from synapse.config.toml_tables import read_profile_tables
from synapse.lang import Lang, per_language
from synapse.paths import default_data_dir

PROFILES_ENV = "SYNAPSE_EXPORT_PROFILES"
PROFILES_FILE = "export_profiles.toml"
DEFAULT_BASE = "Qwen/Qwen2.5-1.5B-Instruct"
QWEN_STOPS = ("<|im_end|>", "<|endoftext|>")

TRIZ_SYSTEM: dict[str, str] = {
    "en": (
        "You are a TRIZ assistant: an engineer who solves technical problems with TRIZ, the theory of "
        "inventive problem solving. For every problem, first state the technical contradiction: which "
        "parameter has to improve and which one gets worse because of it. Where it helps, sharpen it "
        "into a physical contradiction, a property that must take two opposite values. Then use the "
        "39×39 contradiction matrix to choose among the 40 inventive principles, and show how each "
        "chosen principle changes the concrete system. Be brief and practical, and say plainly when "
        "information is missing. Answer in the language the user writes in."
    ),
    "ru": (
        "Ты — ТРИЗ-ассистент, инженер, который решает технические задачи методами ТРИЗ (теории решения "
        "изобретательских задач). Для каждой задачи сначала сформулируй техническое противоречие: какой "
        "параметр нужно улучшить и какой из-за этого ухудшается. Где это помогает, обостри его до "
        "физического противоречия — свойства, которое должно принимать два противоположных значения. "
        "Затем по матрице противоречий 39×39 выбери подходящие из 40 изобретательских приёмов и покажи, "
        "как каждый выбранный приём меняет конкретную систему. Отвечай кратко и по делу, а если данных "
        "не хватает, прямо скажи об этом. Отвечай на том языке, на котором пишет пользователь."
    ),
}

# Qwen2.5's ChatML in Ollama's Go template language. It reproduces the model's own chat format:
# the tools list goes into the system turn, the assistant calls tools inside <tool_call> tags, and
# consecutive tool results share one user turn, each inside <tool_response> tags. The last assistant
# message stays open so that Ollama can continue it. Ollama joins all system messages into .System
# and also leaves them in .Messages, so the loop skips them rather than printing them twice. The
# .Prompt branch serves templates run without messages.
QWEN25_TEMPLATE = """\
{{- if .Messages }}
{{- if or .System .Tools }}<|im_start|>system
{{- if .System }}
{{ .System }}
{{- end }}
{{- if .Tools }}

# Tools

You may call one or more functions to assist with the user query.

You are provided with function signatures within <tools></tools> XML tags:
<tools>
{{- range .Tools }}
{"type": "function", "function": {{ .Function }}}
{{- end }}
</tools>

For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:
<tool_call>
{"name": <function-name>, "arguments": <args-json-object>}
</tool_call>
{{- end }}<|im_end|>
{{ end }}
{{- $prev := "" }}
{{- range $i, $msg := .Messages }}
{{- $rest := slice $.Messages $i }}
{{- $last := eq (len $rest) 1 }}
{{- $next := "" }}
{{- if not $last }}{{ $next = (index $rest 1).Role }}{{ end }}
{{- if eq .Role "user" }}<|im_start|>user
{{ .Content }}<|im_end|>
{{ else if eq .Role "assistant" }}<|im_start|>assistant
{{- if .Content }}
{{ .Content }}
{{- else if not .ToolCalls }}
{{ end }}
{{- range .ToolCalls }}
<tool_call>
{"name": "{{ .Function.Name }}", "arguments": {{ .Function.Arguments }}}
</tool_call>
{{- end }}
{{- if not $last }}<|im_end|>
{{ end }}
{{- else if eq .Role "tool" }}
{{- if ne $prev "tool" }}<|im_start|>user{{ end }}
<tool_response>
{{ .Content }}
</tool_response>
{{- if ne $next "tool" }}<|im_end|>
{{ end }}
{{- end }}
{{- if and $last (ne .Role "assistant") }}<|im_start|>assistant
{{ end }}
{{- $prev = .Role }}
{{- end }}
{{- else }}
{{- if .System }}<|im_start|>system
{{ .System }}<|im_end|>
{{ end }}
{{- if .Prompt }}<|im_start|>user
{{ .Prompt }}<|im_end|>
{{ end }}<|im_start|>assistant
{{ end }}{{ .Response }}{{ if .Response }}<|im_end|>{{ end }}"""

# What a user may write for each field when the file gets it wrong.
_FIELD_HINTS: dict[str, str] = {
    "quant": "use one of Q4_K_M, Q5_K_M, Q6_K, Q8_0, F16",
    "num_ctx": "use an integer from 512 to 131072",
    "temperature": "use a number from 0 to 2",
    "system_lang": 'use "ru" or "en", with a matching text in the system table',
    "system": 'give a table with "en" and/or "ru" texts, e.g. [profiles.NAME.system] en = "..."',
    "ollama_name": "use letters, digits, '.', '_', '-', an optional 'namespace/' and ':tag'",
    "stop": "give a list of non-empty strings",
    "adapter": "give the adapter directory as a string",
}
_OLLAMA_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?(:[A-Za-z0-9][A-Za-z0-9._-]*)?$")


def default_ollama_name(name: str, quant: str) -> str:
    """The Ollama model name a profile gets when it names none (td010v2 + Q4_K_M -> triz-td010v2-q4km)."""
    return f"triz-{name}-{quant.lower().replace('_', '')}"


class ExportProfile(BaseModel):
    """One named export recipe: base, adapter, quantization and the model's Ollama presentation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    description: str = ""
    base: str = DEFAULT_BASE
    adapter: str | None = None
    quant: Quant = "Q4_K_M"
    ollama_name: str
    system: dict[str, str] = Field(default_factory=lambda: dict(TRIZ_SYSTEM))
    system_lang: Lang = "ru"
    num_ctx: int = Field(default=4096, ge=512, le=131072)
    temperature: float = Field(default=0.3, ge=0.0, le=2.0)
    stop: list[str] = Field(default_factory=lambda: list(QWEN_STOPS), min_length=1)
    template: str = Field(default=QWEN25_TEMPLATE, min_length=1)
    # Filled by the export from the base's generation_config.json (export/generation.py), Ollama's names.
    base_sampling: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _derive_ollama_name(cls, data: Any) -> Any:
        # A profile without its own Ollama name gets one from its name and quantization, so that two
        # profiles never silently register over the same Ollama model.
        if isinstance(data, dict) and not data.get("ollama_name") and isinstance(data.get("name"), str):
            quant = data.get("quant", "Q4_K_M")
            return {**data, "ollama_name": default_ollama_name(data["name"], str(quant))}
        return data

    @field_validator("base", "adapter")
    @classmethod
    def _expand_home(cls, value: str | None) -> str | None:
        # Hand-written TOML paths often start with ~; HF ids never do.
        return os.path.expanduser(value) if value and value.startswith("~") else value

    @field_validator("ollama_name")
    @classmethod
    def _check_ollama_name(cls, value: str) -> str:
        if not _OLLAMA_NAME.match(value):
            raise ValueError(f"{value!r} is not a valid Ollama model name")
        return value

    @field_validator("system")
    @classmethod
    def _check_system(cls, value: dict[str, str]) -> dict[str, str]:
        if not per_language(value):
            raise ValueError("the system prompt is empty")
        return value

    @field_validator("system_lang")
    @classmethod
    def _check_system_lang(cls, value: str, info: ValidationInfo) -> str:
        system = info.data.get("system")
        if isinstance(system, dict) and not str(system.get(value, "")).strip():
            raise ValueError(f"there is no {value!r} text in system")
        return value

    @field_validator("stop")
    @classmethod
    def _check_stop(cls, value: list[str]) -> list[str]:
        if any(not item for item in value):
            raise ValueError("stop strings must not be empty")
        return value

    @property
    def system_text(self) -> str:
        """The system prompt in the profile's chosen language."""
        return self.system[self.system_lang]

    def ollama_parameters(self) -> dict[str, Any]:
        """The PARAMETER values for Ollama, the same for the Modelfile and the create request."""
        # A temperature the profile sets wins over the base's; the base's other values come as they are.
        sampling = dict(self.base_sampling)
        if "temperature" in self.model_fields_set or "temperature" not in sampling:
            sampling["temperature"] = self.temperature
        return {"stop": list(self.stop), "num_ctx": self.num_ctx, **sampling}


def builtin_profiles() -> dict[str, ExportProfile]:
    """The profiles that ship with the project (their adapter paths follow the current data dir)."""
    td010v2 = ExportProfile(
        name="td010v2",
        description="TD-010v2: Qwen2.5-1.5B-Instruct + TRIZ LoRA (r 8, alpha 16), Q4_K_M for Ollama",
        base=DEFAULT_BASE,
        adapter=str(default_data_dir() / "adapters" / "td010v2"),
        quant="Q4_K_M",
        ollama_name="triz-td010v2-q4km",
    )
    return {td010v2.name: td010v2}


def default_profiles_file() -> Path | None:
    """The user profile file: SYNAPSE_EXPORT_PROFILES (environment or .env), else the data dir's file when present."""
    configured = ExportSettings().profiles
    if configured is not None:
        return configured.expanduser()
    candidate = default_data_dir() / PROFILES_FILE
    return candidate if candidate.is_file() else None


def load_profiles(user_file: Path | None = None) -> dict[str, ExportProfile]:
    """All profiles: the built-in ones plus (overriding them by name) those from the user's TOML file."""
    profiles = builtin_profiles()
    path = user_file if user_file is not None else default_profiles_file()
    if path is None:
        return profiles
    resolver = _Resolver(
        path, read_profile_tables(path, "export profile file", PROFILES_ENV, ExportProfileError), profiles
    )
    for name in resolver.tables:
        resolver.resolve(name)
    return {**profiles, **resolver.resolved}


def get_profile(name: str, user_file: Path | None = None) -> ExportProfile:
    """One profile by name, or an ExportProfileError that lists the names there are."""
    profiles = load_profiles(user_file)
    if name not in profiles:
        raise ExportProfileError(
            f"unknown export profile: {name!r}",
            "known profiles: " + ", ".join(sorted(profiles)) + "; `synapse export --list` shows them",
        )
    return profiles[name]


class _Resolver:
    """Builds the user profiles of one file, each after the profile it extends (user or built-in)."""

    def __init__(self, path: Path, tables: dict[str, dict[str, Any]], builtins: dict[str, ExportProfile]) -> None:
        self.path, self.tables, self.builtins = path, tables, builtins
        self.resolved: dict[str, ExportProfile] = {}

    def resolve(self, name: str, chain: tuple[str, ...] = ()) -> ExportProfile:
        """Build one user profile, first building the profile it extends."""
        if name in self.resolved:
            return self.resolved[name]
        table = dict(self.tables[name])
        parent_name = table.pop("extends", None)
        if parent_name is None and name in self.builtins:
            # Redefining a built-in name adjusts that built-in rather than starting from scratch.
            parent_name = name
        if "name" in table and table.pop("name") != name:
            raise ExportProfileError(
                f"{self.path}: profile {name!r}: field 'name' differs from the table name",
                "the table key is the profile's name; remove the name field",
            )
        fields = table
        if parent_name is not None:
            fields = _inherit(self.parent(name, parent_name, chain), table)
        try:
            profile = ExportProfile.model_validate({**fields, "name": name})
        except ValidationError as exc:
            raise _invalid_field(self.path, name, exc) from None
        self.resolved[name] = profile
        return profile

    def parent(self, name: str, parent_name: object, chain: tuple[str, ...]) -> ExportProfile:
        """The profile that `name` extends; a user profile may extend itself only as the built-in of that name."""
        path, tables, builtins = self.path, self.tables, self.builtins
        if not isinstance(parent_name, str):
            raise ExportProfileError(f"{path}: profile {name!r}: field 'extends' must be a profile name (a string)")
        if parent_name == name:
            if name in builtins:
                return builtins[name]
            raise ExportProfileError(f"{path}: profile {name!r}: field 'extends' names the profile itself")
        if parent_name in tables:
            if parent_name in chain:
                loop = " -> ".join((*chain, name, parent_name))
                raise ExportProfileError(f"{path}: profile {name!r}: field 'extends' makes a loop: {loop}")
            return self.resolve(parent_name, (*chain, name))
        if parent_name in builtins:
            return builtins[parent_name]
        known = sorted({*builtins, *tables} - {name})
        raise ExportProfileError(
            f"{path}: profile {name!r}: field 'extends' names an unknown profile {parent_name!r}",
            "known profiles: " + ", ".join(known),
        )


def _inherit(parent: ExportProfile, table: dict[str, Any]) -> dict[str, Any]:
    """The parent's fields overlaid with the child's; system texts merge per language."""
    fields = parent.model_dump(exclude={"name", "ollama_name"})
    system = table.get("system")
    if isinstance(system, dict):
        table = {**table, "system": {**parent.system, **system}}
    return {**fields, **table}


def _invalid_field(path: Path, name: str, exc: ValidationError) -> ExportProfileError:
    """An ExportProfileError for the first invalid field of a profile, with a hint on what the field takes."""
    error = exc.errors()[0]
    loc = [str(part) for part in error["loc"]]
    field = loc[0] if loc else "(profile)"
    where = ".".join(loc) if loc else field
    if error["type"] == "extra_forbidden":
        allowed = ", ".join(["extends", *[f for f in ExportProfile.model_fields if f != "name"]])
        hint = f"known fields: {allowed}"
    else:
        hint = _FIELD_HINTS.get(field, "fix the value in the file")
    return ExportProfileError(f"{path}: profile {name!r}: field {where!r}: {error['msg']}", hint)
