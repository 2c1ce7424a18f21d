"""The client's tests run against SYNAPSE itself on uvicorn, with the API tests' fixtures."""

from tests.synapse.api.conftest import lexicon_analyzer, serve

# A port in this suite's range that nothing listens on.
CLOSED_PORT = 18399

__all__ = ["CLOSED_PORT", "lexicon_analyzer", "serve"]
