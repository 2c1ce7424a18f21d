"""What the request bodies of every dialect share.

Bodies validate strictly (no `0` for false, no `false` for 0, no "3" for 3), as OpenAI and Ollama do: a
client that sends the wrong type hears about it instead of getting a silently converted value.
"""

from __future__ import annotations

from pydantic import ConfigDict

from synapse.agent import RagOptions


class RagRequest(RagOptions):
    """`rag` as a request sends it: the agent's RagOptions, validated strictly."""

    model_config = ConfigDict(extra="forbid", strict=True)
