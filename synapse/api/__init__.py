"""The SYNAPSE HTTP API (OpenAI, Ollama and TRIZ routes) for the Neuro-Terminal and other agents."""

from synapse.api.app import create_app

__all__ = ["create_app"]
