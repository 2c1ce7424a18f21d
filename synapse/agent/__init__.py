"""The connector: CORTEX retrieval and TRIZ analysis before generation, fitted prompts, sources with answers."""

from synapse.agent.budget import ContextOverflowError, FittedPrompt, fit_prompt
from synapse.agent.connector import Agent, InvalidTurnError, create_agent
from synapse.agent.cortex_link import ReopeningCortex, UnavailableCortex, open_cortex
from synapse.agent.lang import detect_lang
from synapse.agent.memory import DialogueMemory
from synapse.agent.models import (
    AGENT_MODELS,
    BASE_AGENT,
    TRIZ_AGENT,
    RagMode,
    RagOptions,
    RetrievalInfo,
    TrizInfo,
    TurnPlan,
    TurnRequest,
)
from synapse.agent.profile_set import ProfileSet
from synapse.agent.profiles import AUTO_MODEL, Profile, ProfileAdapter, ProfileError, load_profiles
from synapse.agent.routing import ProfileRouter

__all__ = [
    "AGENT_MODELS",
    "AUTO_MODEL",
    "BASE_AGENT",
    "TRIZ_AGENT",
    "Agent",
    "ContextOverflowError",
    "DialogueMemory",
    "FittedPrompt",
    "InvalidTurnError",
    "Profile",
    "ProfileAdapter",
    "ProfileError",
    "ProfileRouter",
    "ProfileSet",
    "RagMode",
    "RagOptions",
    "ReopeningCortex",
    "RetrievalInfo",
    "TrizInfo",
    "TurnPlan",
    "TurnRequest",
    "UnavailableCortex",
    "create_agent",
    "detect_lang",
    "fit_prompt",
    "load_profiles",
    "open_cortex",
]
