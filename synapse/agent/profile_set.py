"""The profiles SYNAPSE serves, with their adapters resolved once at start."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cortex.models import CortexHealth
from synapse.agent.profiles import AUTO_MODEL, Profile, ProfileAdapter, builtin_profiles, load_profiles, resolve_adapter
from synapse.config import SynapseSettings


@dataclass(frozen=True)
class ProfileSet:
    """Profiles by name and the adapters they bring (an adapter shared by two profiles is loaded once)."""

    profiles: dict[str, Profile] = field(default_factory=builtin_profiles)
    adapters: dict[str, ProfileAdapter] = field(default_factory=dict)

    @classmethod
    def load(cls, settings: SynapseSettings, data_dir: Path | None = None) -> ProfileSet:
        """SYNAPSE_PROFILES read and every adapter found; raises ProfileError naming what is missing."""
        profiles = load_profiles(settings.profiles)
        adapters: dict[str, ProfileAdapter] = {}
        by_path: dict[Path, ProfileAdapter] = {}
        for profile in profiles.values():
            adapter = resolve_adapter(profile, data_dir)
            if adapter is not None:
                adapters[profile.name] = by_path.setdefault(adapter.path.resolve(), adapter)
        return cls(profiles, adapters)

    @property
    def models(self) -> tuple[str, ...]:
        """The model names the API lists for the agent: every profile, then `auto`."""
        return (*self.profiles, AUTO_MODEL)

    def served_adapters(self) -> list[tuple[str, Path]]:
        """What the embedded backend loads: each distinct LoRA under its served name."""
        unique = {a.served: a.path for a in self.adapters.values()}
        return list(unique.items())

    def get(self, name: str) -> Profile | None:
        return self.profiles.get(name)

    def mode_problems(self, health: CortexHealth, default_mode: str) -> list[str]:
        """Profiles whose RAG mode cannot reach their collections' documents on this CORTEX (graph modes
        without an entity-extraction LLM search the TRIZ graph alone)."""
        from cortex.scope import modes_reaching_documents

        reach = modes_reaching_documents(health)
        out = []
        for profile in self.profiles.values():
            mode = profile.rag_mode or default_mode
            if profile.collections and mode != "off" and mode not in reach:
                out.append(
                    f"profile {profile.name!r}: rag_mode {mode!r} never returns its collections' documents here "
                    "(no CORTEX_LLM_MODEL for entity extraction); use 'naive' or 'mix'"
                )
        return out
