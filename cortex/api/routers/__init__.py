"""The routers of the CORTEX API."""

from cortex.api.routers import documents, health, query, triz

__all__ = ["documents", "health", "query", "triz"]
