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
from synapse.agent.routing import TrizRouter

__all__ = [
    "AGENT_MODELS",
    "BASE_AGENT",
    "TRIZ_AGENT",
    "Agent",
    "ContextOverflowError",
    "DialogueMemory",
    "FittedPrompt",
    "InvalidTurnError",
    "RagMode",
    "RagOptions",
    "ReopeningCortex",
    "RetrievalInfo",
    "TrizInfo",
    "TrizRouter",
    "TurnPlan",
    "TurnRequest",
    "UnavailableCortex",
    "create_agent",
    "detect_lang",
    "fit_prompt",
    "open_cortex",
]
