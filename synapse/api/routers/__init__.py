"""The API's routers, one per dialect."""

from synapse.api.routers import health, ollama, openai, triz

__all__ = ["health", "ollama", "openai", "triz"]
