"""Agent profiles: each a model of the API with its own adapter (or plain model), prompt, knowledge and RAG mode.

`triz-agent` and `triz-agent-base` are built in; a TOML file (SYNAPSE_PROFILES) of `[profiles.NAME]` tables adds
profiles or adjusts the built-in ones. A profile's adapter is a LoRA GGUF path or the name of an export profile
whose `synapse export NAME --mode adapter` wrote it; the embedded backend loads each once over the shared base.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from synapse.agent.models import BASE_AGENT, TRIZ_AGENT, RagMode
from synapse.errors import SynapseError
from synapse.lang import per_language
from synapse.paths import default_data_dir

PROFILES_ENV = "SYNAPSE_PROFILES"
#: The model that picks a profile by the question (synapse/agent/routing.py).
AUTO_MODEL = "auto"
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_COLLECTION = re.compile(r"^[a-z0-9_-]{1,64}$")


class ProfileError(SynapseError):
    """A profile file that cannot be read or is invalid, or a profile whose adapter is missing."""

    status = 422


class Profile(BaseModel):
    """One agent profile; what it leaves out (adapter, system text, RAG mode) follows its role and the settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    #: triz: the TRIZ prompt and the TRIZ model; base: the plain prompt and the baseline model.
    role: Literal["triz", "base"] = "triz"
    #: A LoRA GGUF (path) or an export profile name; applied over the embedded base per request.
    adapter: str | None = None
    #: A model the backend serves by name (an Ollama model, or a name from GET /v1/models of the embedded one).
    model: str | None = None
    #: The system prompt per language (en, ru); missing languages use the role's built-in text.
    system: dict[str, str] = Field(default_factory=dict)
    #: CORTEX collections to retrieve from, next to the shared TRIZ knowledge; None: every document.
    collections: list[str] | None = None
    rag_mode: RagMode | None = None
    #: Whether the TRIZ analyzer runs on the question (its contradiction goes into the prompt).
    analyzer: bool = True

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _NAME.match(value) or value == AUTO_MODEL:
            raise ValueError(f"{value!r} is not a profile name: lowercase letters, digits, '.', '_', '-' (not 'auto')")
        return value

    @field_validator("system")
    @classmethod
    def _check_system(cls, value: dict[str, str]) -> dict[str, str]:
        return per_language(value)

    @field_validator("collections")
    @classmethod
    def _check_collections(cls, value: list[str] | None) -> list[str] | None:
        bad = [c for c in value or [] if not _COLLECTION.match(c)]
        if bad:
            raise ValueError(f"bad collection name(s) {', '.join(map(repr, bad))}: use a-z, 0-9, '-', '_'")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> Profile:
        if self.adapter is not None and self.model is not None:
            raise ValueError("give an adapter or a model, not both")
        return self


class ProfileAdapter(BaseModel):
    """A profile's adapter, resolved: the LoRA GGUF, the name the embedded backend serves it under, and the
    Ollama model that `synapse export --mode adapter` registered for it."""

    served: str
    path: Path
    ollama_model: str


def builtin_profiles() -> dict[str, Profile]:
    """The two profiles every SYNAPSE has (their models follow SYNAPSE_TRIZ_MODEL and SYNAPSE_BASE_MODEL)."""
    return {
        TRIZ_AGENT: Profile(
            name=TRIZ_AGENT, description="TRIZ model with TRIZ knowledge retrieval and the contradiction analysis"
        ),
        BASE_AGENT: Profile(
            name=BASE_AGENT, role="base", description="the baseline model through the same retrieval pipeline"
        ),
    }


def load_profiles(path: Path | None) -> dict[str, Profile]:
    """The built-in profiles plus (replacing them by name) those of the TOML file at `path`."""
    from synapse.config.toml_tables import read_profile_tables

    profiles = builtin_profiles()
    if path is None:
        return profiles
    path = path.expanduser()
    for name, table in read_profile_tables(path, "agent profile file", PROFILES_ENV, ProfileError).items():
        # Redefining a built-in profile adjusts it: the fields the table leaves out keep the built-in's values.
        start = profiles[name].model_dump(exclude={"name"}, exclude_defaults=True) if name in profiles else {}
        profiles[name] = _validated(path, name, {**start, **table})
    return profiles


def _validated(path: Path, name: str, table: dict[str, Any]) -> Profile:
    if "name" in table and table["name"] != name:
        raise ProfileError(f"{path}: [profiles.{name}] sets name = {table['name']!r}", "leave `name` out of the table")
    try:
        return Profile.model_validate({**table, "name": name})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "profile"
        raise ProfileError(
            f"{path}: [profiles.{name}] {field}: {first['msg']}",
            "fields: description, role (triz|base), adapter, model, system.en/.ru, collections, rag_mode, analyzer",
        ) from None


def resolve_adapter(profile: Profile, data_dir: Path | None = None) -> ProfileAdapter | None:
    """The profile's LoRA GGUF; a missing file is an error naming it and the export command that writes it."""
    if profile.adapter is None:
        return None
    given = Path(profile.adapter).expanduser()
    if given.suffix == ".gguf" or given.is_absolute() or len(given.parts) > 1:
        stem = given.stem.removesuffix("-lora")
        return _existing(profile, given, stem, f"synapse export --mode adapter (it writes {stem}-lora.gguf)")
    ollama_name = _export_model_name(profile.name, profile.adapter)
    root = data_dir if data_dir is not None else default_data_dir()
    # export/pipeline.py's lora_name: <ollama name>-lora.gguf in exports/<ollama name>/.
    path = root / "exports" / ollama_name / f"{ollama_name}-lora.gguf"
    return _existing(profile, path, ollama_name, f"synapse export {profile.adapter} --mode adapter")


def _existing(profile: Profile, path: Path, ollama_model: str, command: str) -> ProfileAdapter:
    if not path.is_file():
        raise ProfileError(
            f"profile {profile.name!r}: its adapter {path} does not exist",
            f"run `{command}`, or point `adapter` in {PROFILES_ENV} to a LoRA GGUF",
        )
    return ProfileAdapter(served=profile.name, path=path, ollama_model=ollama_model)


def _export_model_name(profile: str, export_profile: str) -> str:
    """The Ollama name that the export gives the profile `export_profile`, which names its folder."""
    from export.errors import ExportError
    from export.profiles import get_profile

    try:
        return get_profile(export_profile).ollama_name
    except ExportError as exc:
        raise ProfileError(
            f"profile {profile!r}: its adapter {export_profile!r} is neither a .gguf path nor an export profile "
            f"({exc.message})",
            exc.hint or "`synapse export --list` shows the export profiles",
        ) from None
